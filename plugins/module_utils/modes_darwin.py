# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""macOS worker decisions of the worker mode plan (``modes.py``): what to do with a user's Desktop
Worker LaunchAgent, launchd's disabled list, accounts from Directory Services.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def darwin_agent_action(active, exists, ours):
    """What to do with one user's ``com.pipelinefx.DesktopWorker`` LaunchAgent.

    ``write``: absent, or ours (rewritten to our content); ``keep``: the vendor's or the site's
    (QubeUI writes it, KB how-to) -- used as it is; ``remove``: ours, no longer wanted;
    ``disable``: not ours, no longer wanted -- booted out and disabled in ``gui/<uid>``, the file
    stays; ``none``: nothing there, nothing wanted.
    """
    if active:
        return "write" if (not exists or ours) else "keep"
    if not exists:
        return "none"
    return "remove" if ours else "disable"


def launchd_disabled(text, label):
    """From ``launchctl print-disabled <domain>``: True when ``label`` is disabled there.

    Lines look like ``"com.pipelinefx.worker" => disabled`` (``=> true`` on older macOS). A label
    the output does not list is enabled (launchd's default).
    """
    wanted = '"%s"' % label
    for line in (text or "").splitlines():
        name, sep, value = line.strip().partition("=>")
        if sep and name.strip() == wanted:
            return value.strip().lower() in ("disabled", "true")
    return False


def parse_dscl(text):
    """``{uid, gid, home}`` from ``dscl -read /Users/x UniqueID PrimaryGroupID NFSHomeDirectory``.

    Returns None when a field is missing or not numeric.
    """
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("UniqueID", "PrimaryGroupID", "NFSHomeDirectory") and value.strip():
            fields[key] = value.strip()
    if len(fields) != 3 or not (fields["UniqueID"].isdigit() and fields["PrimaryGroupID"].isdigit()):
        return None
    return {"uid": int(fields["UniqueID"]), "gid": int(fields["PrimaryGroupID"]),
            "home": fields["NFSHomeDirectory"]}
