# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a worker's effective configuration (as the supervisor reports it) with inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.module_utils import qbconf

# Values that cannot be compared as text: encrypted strings differ on every qbhash call, so
# only their presence is checked.
PRESENCE_ONLY_KEYS = frozenset(["proxy_password", "database_password"])


def compare(expected, effective_text):
    """Compare ``expected`` ({key: python value}) with ``qbadmin worker --configuration`` text.

    Returns ``{"ok": bool, "missing": [keys], "mismatched": {key: {"want": str, "got": str}},
    "diff": str}``; secret values never appear, only "(set)"/"(not set)".
    """
    actual = qbconf.QbConf(effective_text or "")
    missing, mismatched = [], {}
    for key in sorted(expected):
        got = actual.get(key)
        if key in PRESENCE_ONLY_KEYS:
            if got is None or not qbconf.unquote(got):
                missing.append(key)
            continue
        want = qbconf.render_value(key, expected[key])
        if got is None:
            missing.append(key)
        elif not qbconf.values_equal(key, want, got):
            mismatched[key] = {"want": qbconf.unquote(want), "got": qbconf.unquote(got)}
    lines = ["- %s = %s\n+ %s = (not set)" % (k, "(set)" if k in PRESENCE_ONLY_KEYS
                                              else qbconf.unquote(qbconf.render_value(k, expected[k])), k)
             for k in missing]
    lines += ["- %s = %s\n+ %s = %s" % (k, v["want"], k, v["got"]) for k, v in sorted(mismatched.items())]
    return {"ok": not missing and not mismatched, "missing": missing, "mismatched": mismatched,
            "diff": "\n".join(lines)}
