# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-side preflight: what only a worker can tell, looked at before anything changes.

:func:`plan` (controller) turns one worker's inventory into the list of things to look at on it;
:func:`run` (on the worker, read-only) looks and returns every problem, each naming the inventory
variable and the host. Nothing here changes a host, so it runs in check mode too.

Looked at:

* the job identity resolves (the proxy account of service + proxy mode, an AD account as
  ``DOMAIN\\account`` the way winbind/sssd resolve it, the submitters of user mode, the desktop
  user of Desktop User mode); a local proxy account the identity role creates may be missing;
* the job identity is not root, has no root group, is in no privileged group (sudo, wheel,
  admin, ...) and is not the worker's service account (root), unless
  ``qube_allow_privileged_identity``;
* the validation paths exist;
* the worker package is installed, or can be installed (package files on the controller, or a
  repository that offers it);
* the Qube! client commands the roles run (qbhash, qbsub, qbout) exist in ``qube_bin_dir`` once the
  worker is installed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.renderfarm.qube.plugins.module_utils import identity, modes_packages

BIN_DIRS = {"Linux": "/usr/local/pfx/qube/bin", "Darwin": "/Applications/pfx/qube/bin"}
PROGRAMS = ("qbhash", "qbsub", "qbout")


def plan(hostvars, name, decided, package_file_exists=os.path.exists):
    """What to look at on worker ``name``. ``decided`` is the identity plan (filter/identity.py)."""
    system = (hostvars.get("ansible_facts") or {}).get("system") or hostvars.get("ansible_system") or "Linux"
    mode = hostvars.get("qube_worker_mode", "service")
    exec_mode = hostvars.get("qube_proxy_execution_mode", "proxy")
    accounts = []
    if mode == "desktop":
        accounts.append({"name": hostvars.get("qube_desktop_user") or "", "domain": "",
                         "variable": "qube_desktop_user", "must_exist": True})
    elif exec_mode == "user":
        for user in hostvars.get("qube_user_mode_users") or []:
            accounts.append({"name": user, "domain": "", "variable": "qube_user_mode_users", "must_exist": True})
    else:
        accounts.append({"name": hostvars.get("qube_proxy_account", "qubeproxy"), "domain": decided.get("domain") or "",
                         "variable": "qube_proxy_account" + (" and qube_worker_host_domain" if decided.get("domain") else ""),
                         # The identity role creates a local proxy account; an AD one must exist.
                         "must_exist": not decided.get("manage_local_account")})
    files = list(hostvars.get("qube_worker_package_files") or [])
    missing_files = [path for path in files if not package_file_exists(path)]
    names = list(hostvars.get("qube_worker_packages") or ["qube-core", "qube-worker"])
    if files:
        names = [modes_packages.package_name(path) for path in files]
    bin_dir = hostvars.get("qube_bin_dir") or BIN_DIRS.get(system, BIN_DIRS["Linux"])
    return {
        "host": name, "system": system,
        "accounts": [a for a in accounts if a["name"]],
        "allow_privileged": bool(hostvars.get("qube_allow_privileged_identity", False)),
        "service_account": "root" if mode == "service" else "",
        "paths": list(hostvars.get("qube_validation_paths") or []) if hostvars.get("qube_validate_identity", True) else [],
        "packages": {"names": names, "files": files, "missing_files": missing_files,
                     "install": bool(hostvars.get("qube_worker_install", True))},
        "programs": [os.path.join(bin_dir, program) for program in PROGRAMS],
        "bin_dir_variable": "qube_bin_dir",
    }


def _account_problems(spec, account, resolve=identity.resolve_identity, describe=identity.describe_identity):
    host, label = spec["host"], account["variable"]
    shown = "%s\\%s" % (account["domain"], account["name"]) if account["domain"] else account["name"]
    entry = resolve(account["name"], account["domain"] or None)
    if entry is None:
        if not account["must_exist"]:
            return []
        return ["%s: %s names %s, which does not resolve on this host (tried %s). Create the account, or join the "
                "host to the directory (winbind/sssd), or fix %s." % (
                    host, label, shown, " and ".join(identity.candidate_names(account["name"], account["domain"] or None)),
                    label)]
    if spec["allow_privileged"]:
        return []
    problems = identity.privilege_problems(describe(entry), spec["service_account"] or None)
    if not problems:
        return []
    return ["%s: %s names %s, and jobs would run with root or admin rights: %s. Use an unprivileged account, or set "
            "qube_allow_privileged_identity: true if that is really intended." % (host, label, shown, "; ".join(problems))]


def run(spec, installed, candidate, exists=os.path.exists, is_dir=os.path.isdir, executable=None):
    """Every problem on this host. ``installed(names)`` -> installed package names;
    ``candidate(name)`` -> whether a repository offers ``name``."""
    executable = executable or (lambda path: os.path.isfile(path) and os.access(path, os.X_OK))
    host = spec["host"]
    problems = []
    for account in spec["accounts"]:
        problems.extend(_account_problems(spec, account))
    for path in spec["paths"]:
        if not is_dir(path):
            problems.append("%s: qube_validation_paths lists %s, which is not a folder on this host. Create or mount "
                            "it, or fix the list." % (host, path))
    packages = spec["packages"]
    have = installed(packages["names"])
    if not have:
        if not packages["install"]:
            problems.append("%s: the worker is not installed (%s) and qube_worker_install is false. Install it, or set "
                            "qube_worker_install: true." % (host, ", ".join(packages["names"])))
        elif packages["files"]:
            if packages["missing_files"]:
                problems.append("%s: qube_worker_package_files lists %s, not found on the controller. Fix the paths."
                                % (host, ", ".join(packages["missing_files"])))
        else:
            offered = [name for name in packages["names"] if candidate(name)]
            if len(offered) != len(packages["names"]):
                missing = [name for name in packages["names"] if name not in offered]
                problems.append("%s: qube_worker_packages lists %s, which is not installed and no repository of this "
                                "host offers. Add the Qube! repository, or give qube_worker_package_files."
                                % (host, ", ".join(missing)))
    else:
        for program in spec["programs"]:
            if not executable(program):
                problems.append("%s: %s is not an executable file, but the worker is installed. Set %s to the folder "
                                "of the Qube! client commands (vendor: <qb_directory>/bin)."
                                % (host, program, spec["bin_dir_variable"]))
    return problems
