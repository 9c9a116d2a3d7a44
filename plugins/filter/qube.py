# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Template-facing entry points of the collection.

``qube_worker_settings(hostvars_of_host, name, secrets=None)``
    One host's decisions (``module_utils/settings.py: host_settings``): ``dict(name, os, local,
    central, remove_local, templates)``.  With ``secrets`` ({account: qbhash output}) a
    proxy_password placeholder placed *local* is filled in.

``qube_qbwrk(list_of_host_settings, templates=None, secrets=None, header='', defaults=None)``
    The supervisor's qbwrk.conf text for a list of ``qube_worker_settings`` results: templates
    (``qube_templates``) are checked and rendered, proxy_password placeholders are replaced from
    ``secrets``, and ``module_utils/qbwrk.py: render`` writes the compact file.

Errors are raised as ``AnsibleFilterError`` with every problem listed; they never contain a
secret value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConfError
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import QbwrkError, render
from ansible_collections.renderfarm.qube.plugins.module_utils.settings import (
    SettingsError, fill_secrets, host_settings, template_values, validate_templates,
)


def qube_worker_settings(hostvars_of_host, name, secrets=None):
    """Per-host local/central split of the Qube! settings (see the module docstring)."""
    try:
        result = host_settings(name, hostvars_of_host)
        if secrets:
            result["local"] = fill_secrets(result["local"], secrets, name)
    except SettingsError as exc:
        raise AnsibleFilterError("qube_worker_settings: %s" % "; ".join(exc.errors))
    return result


def qube_qbwrk(list_of_host_settings, templates=None, secrets=None, header="", defaults=None):
    """qbwrk.conf text for the hosts (see the module docstring)."""
    templates = templates or {}
    errors = validate_templates(templates)
    hosts = []
    for entry in list_of_host_settings or []:
        try:
            central = fill_secrets(entry.get("central") or {}, secrets, entry.get("name"))
        except SettingsError as exc:
            errors.extend(exc.errors)
            continue
        hosts.append({"name": entry.get("name"), "os": entry.get("os"),
                      "templates": list(entry.get("templates") or []), "settings": central})
    if errors:
        raise AnsibleFilterError("qube_qbwrk: %s" % "; ".join(errors))
    try:
        return render(hosts, template_values(templates), defaults, header or "")
    except (QbwrkError, QbConfError) as exc:
        raise AnsibleFilterError("qube_qbwrk: %s" % exc)


class FilterModule(object):
    """renderfarm.qube filters."""

    def filters(self):
        return {"qube_worker_settings": qube_worker_settings, "qube_qbwrk": qube_qbwrk}
