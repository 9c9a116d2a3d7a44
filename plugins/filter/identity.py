# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identity decisions for one worker: who jobs run as."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.renderfarm.qube.plugins.module_utils import hostcheck


def identity_plan(hostvars, name):
    """Decide the identity steps for one worker from its variables.

    Returns ``manage_local_account`` (create the local proxy account), ``ad_account``,
    ``domain``, ``validate_as`` (the account the validation job runs as: the proxy account, the
    first user-mode submitter, or the desktop user), ``validate_as_qualified`` (DOMAIN\\user
    form for Windows rights) and a
    deterministic ``password_salt`` for the local account's password hash (so an unchanged
    password does not rewrite /etc/shadow).
    """
    mode = hostvars.get("qube_worker_mode", "service")
    exec_mode = hostvars.get("qube_proxy_execution_mode", "proxy")
    account = hostvars.get("qube_proxy_account", "qubeproxy")
    domain = hostvars.get("qube_worker_host_domain", "") or ""

    if mode == "desktop":
        validate_as = hostvars.get("qube_desktop_user", "")
    elif exec_mode == "user":
        users = hostvars.get("qube_user_mode_users") or [
            u.get("name") for u in hostvars.get("qube_windows_user_passwords") or []]
        validate_as = users[0] if users else ""
    else:
        validate_as = account

    # No worker registers its own proxy password: Linux and macOS workers switch users as root and
    # need none; a Windows worker's encrypted one goes to qbwrk.conf, registered on the supervisor
    # (supervisor_config's batch), never to the local qb.conf (settings.py).
    salt = hashlib.sha256(("%s:%s" % (name, account)).encode("utf-8")).hexdigest()[:16]
    return {
        "mode": mode,
        "execution_mode": exec_mode,
        "ad_account": bool(domain) and exec_mode == "proxy" and mode == "service",
        "domain": domain if mode == "service" and exec_mode == "proxy" else "",
        "manage_local_account": (not domain and mode == "service" and exec_mode == "proxy"
                                 and bool(hostvars.get("qube_proxy_account_manage", True))),
        "validate_as": validate_as,
        "validate_as_qualified": ("%s\\%s" % (domain, validate_as)) if domain else (".\\%s" % validate_as),
        "password_salt": salt,
    }


def host_check_spec(hostvars, name):
    """What the host-side preflight looks at on one worker (module_utils/hostcheck.py: plan)."""
    return hostcheck.plan(_plain(hostvars), name, identity_plan(hostvars, name))


def host_problems(hostvars, names):
    """Every problem the host-side preflight found on ``names`` (hosts that ran it)."""
    problems = []
    for name in names:
        result = hostvars[name].get("__qube_preflight_host") or {}
        problems.extend(result.get("problems") or [])
    return problems


def reached_workers(hostvars, names):
    """The workers of ``names`` the host-side preflight reached in this run (all, when it did not run)."""
    reached = [name for name in names if "__qube_preflight_host" in hostvars[name]]
    return reached if reached else list(names)


def _plain(value):
    if hasattr(value, "items"):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class FilterModule(object):
    """renderfarm.qube identity filters."""

    def filters(self):
        return {"qube_identity_plan": identity_plan, "qube_host_check_spec": host_check_spec,
                "qube_host_problems": host_problems, "qube_reached_workers": reached_workers}
