# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_ad_check``: an AD account's password checked from the controller.

Runs on the controller only (it never opens the host's connection): an LDAP simple bind over LDAPS
or StartTLS with ``module_utils/adcheck.py``, the outcome named with its fix. Documentation:
``plugins/modules/qube_ad_check.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible_collections.renderfarm.qube.plugins.module_utils import adcheck

ARGUMENT_SPEC = dict(
    adcheck.CHECK_OPTIONS_SPEC,
    account=dict(type="str", required=True),
    domain=dict(type="str"),
    password=dict(type="str", required=True, no_log=True),
)


class ActionModule(ActionBase):
    """Binds as the account; fails with what AD said and the fix."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # nothing goes to the host
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        options = dict((k, args[k]) for k in adcheck.CHECK_OPTIONS_SPEC)
        outcome, failure = adcheck.check_or_explain(args["account"], args["password"], domain=args["domain"],
                                                    **options)
        result["changed"] = False
        if outcome is not None:
            result["ad_check"] = outcome
        if failure:
            result.update(failed=True, msg="%s: %s" % (args["account"], failure))
        else:
            result["msg"] = "AD accepted the password of %s on %s" % (outcome["principal"], outcome["server"])
        return result
