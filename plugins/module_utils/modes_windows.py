# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows worker decisions of the worker mode plan (``modes.py``): the service's account and
user rights, and what to do with a user's DesktopWorker Startup item.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


# Service+Mode+Windows+User+Rights+Assignment.md: the rights a service-mode worker enables.
WINDOWS_SERVICE_RIGHTS = ("SeTcbPrivilege", "SeIncreaseQuotaPrivilege", "SeDebugPrivilege",
                          "SeImpersonatePrivilege", "SeAssignPrimaryTokenPrivilege")


# KB tips-&-tricks/Windows/How+to+have+the+worker+service+run+as+a+particular+user+on+Windows.md:
# with a named service account, these three to the Administrators and Network Service groups.
WINDOWS_NAMED_ACCOUNT_GROUP_RIGHTS = ("SeAssignPrimaryTokenPrivilege", "SeTcbPrivilege",
                                      "SeIncreaseQuotaPrivilege")


WINDOWS_NAMED_ACCOUNT_GROUPS = ("Administrators", "NETWORK SERVICE")


# Grants earlier versions of the identity role made on every worker that are not Windows defaults
# (SeIncreaseQuota for both and SeAssignPrimaryToken for NETWORK SERVICE are defaults: kept).
WINDOWS_LEGACY_GRANTS = (("SeTcbPrivilege", "Administrators"), ("SeTcbPrivilege", "NETWORK SERVICE"),
                         ("SeAssignPrimaryTokenPrivilege", "Administrators"))


LOCAL_SYSTEM_NAMES = ("", "localsystem", "system", "nt authority\\system", ".\\localsystem")


def is_local_system(account):
    """True when ``account`` (qube_windows_service_account) names LocalSystem (or is empty)."""
    return str(account or "").strip().lower() in LOCAL_SYSTEM_NAMES


def windows_startup_action(active, exists, parked, ours):
    """What to do with one user's DesktopWorker Startup item (KB how-to: QubeUI creates it).

    ``keep``: there and not ours (QubeUI's), used as it is; ``update``: ours, kept in line with
    the variables; ``create``: none there (nor parked), ours is made; ``restore``: a parked item
    goes back into the Startup folder; ``remove``: ours, no longer wanted; ``park``: not ours, no
    longer wanted -- moved out of the Startup folder, not deleted; ``none``: nothing to do.
    """
    if active:
        if exists:
            return "update" if ours else "keep"
        return "restore" if parked else "create"
    if not exists:
        return "none"
    return "remove" if ours else "park"


def safe_name(user):
    """A folder name for an account (DOMAIN\\user -> DOMAIN_user)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(user))


def windows_rights(service_account, mode="service"):
    """User rights to grant and revoke on a Windows worker, as ``[{right, principal, action}]``.

    Service+Mode+Windows+User+Rights+Assignment.md: the service-mode worker's account needs five
    rights. LocalSystem (the default service logon) holds all of them: nothing is granted. A named
    service account gets the five, and (KB tips-&-tricks/Windows/How+to+have+the+worker+service+run
    +as+a+particular+user+on+Windows.md) the Administrators and Network Service groups get three.
    Grants an earlier version of this role made on every worker and that are not Windows defaults
    are revoked when nothing here needs them. ``SeBatchLogonRight`` is neither granted nor revoked
    (the vendor never mentions it). Desktop User mode needs none of them (same page, warning).
    """
    account = "" if is_local_system(service_account) else str(service_account).strip()
    add = {}
    if account and mode == "service":
        for right in WINDOWS_SERVICE_RIGHTS:
            add.setdefault(right, []).append(account)
        for right in WINDOWS_NAMED_ACCOUNT_GROUP_RIGHTS:
            add[right].extend(WINDOWS_NAMED_ACCOUNT_GROUPS)
    remove = {}
    for right, principal in WINDOWS_LEGACY_GRANTS:
        if principal not in add.get(right, []):
            remove.setdefault(right, []).append(principal)
    rights = []
    for right in WINDOWS_SERVICE_RIGHTS:
        rights.extend({"right": right, "principal": p, "action": "add"} for p in add.get(right, []))
        rights.extend({"right": right, "principal": p, "action": "remove"} for p in remove.get(right, []))
    return rights


def windows_service_groups(service_account, mode="service"):
    """Local groups the named service account must be in (the KB: local Administrators)."""
    if is_local_system(service_account) or mode != "service":
        return []
    return ["Administrators"]
