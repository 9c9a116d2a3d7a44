# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Template-facing entry points of ``module_utils/modes.py`` for the worker_mode role.

* ``qube_mode_plan``: what must be present/absent for the worker's mode (``modes.plan``).
* ``qube_mode_errors``: every problem with a host's mode settings (``modes.validate``).
* ``qube_mode_install_needed``: whether the worker packages must be installed.
* ``qube_mode_accounts``: ``{user: {home, uid}}`` from an ``ansible.builtin.getent`` result.
* ``qube_mode_dscl_accounts``: the same from looped macOS ``dscl`` reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.renderfarm.qube.plugins.module_utils import modes


def qube_mode_plan(mode, os_family, desktop_user=None, linger=False, accounts=None,
                   previous=None, qbdir=None, auto_logon=False, worker_unit="worker",
                   daemon_label="com.pipelinefx.worker",
                   agent_label="com.pipelinefx.DesktopWorker", windows_service="qubeworker"):
    """``{{ qube_worker_mode | renderfarm.qube.qube_mode_plan(ansible_facts['system'], ...) }}``."""
    try:
        return modes.plan(mode, os_family, desktop_user=desktop_user, linger=linger,
                          accounts=accounts, previous=previous, qbdir=qbdir,
                          auto_logon=auto_logon, worker_unit=worker_unit,
                          daemon_label=daemon_label, agent_label=agent_label,
                          windows_service=windows_service)
    except ValueError as exc:
        raise AnsibleFilterError("qube_mode_plan: %s" % exc)


def qube_mode_errors(host, mode, os_family, desktop_user=None, user_exists=None,
                     home_exists=None, proxy_execution_mode=None, auto_logon=False,
                     auto_logon_password_set=False, auto_logon_password_vaulted=False,
                     install=False, package_files=None):
    """``{{ inventory_hostname | renderfarm.qube.qube_mode_errors(qube_worker_mode, ...) }}``."""
    return modes.validate(host, mode, os_family, desktop_user=desktop_user,
                          user_exists=user_exists, home_exists=home_exists,
                          proxy_execution_mode=proxy_execution_mode,
                          auto_logon=bool(auto_logon),
                          auto_logon_password_set=bool(auto_logon_password_set),
                          auto_logon_password_vaulted=bool(auto_logon_password_vaulted),
                          install=bool(install), package_files=list(package_files or []))


def qube_mode_install_needed(version, installed, packages=None, package_files=None):
    """``{{ qube_worker_version | renderfarm.qube.qube_mode_install_needed(ansible_facts['packages'], ...) }}``."""
    return modes.install_needed(version, installed, packages=packages, package_files=package_files)


def qube_mode_accounts(getent_passwd):
    """Turn ``ansible_facts['getent_passwd']`` into ``{user: {"home": ..., "uid": int, "gid": int}}``.

    getent's fields after the name are: password, uid, gid, gecos, home, shell.
    """
    accounts = {}
    for name, fields in (getent_passwd or {}).items():
        if fields and len(fields) >= 5:
            accounts[name] = {"uid": int(fields[1]), "gid": int(fields[2]), "home": fields[4]}
    return accounts


def qube_mode_dscl_accounts(results):
    """``{user: {"home", "uid"}}`` from a looped ``dscl /Search -read /Users/<user>`` register."""
    accounts = {}
    for result in results or []:
        if result.get("rc") == 0:
            account = modes.parse_dscl(result.get("stdout", ""))
            if account:
                accounts[result["item"]] = account
    return accounts


class FilterModule(object):
    """renderfarm.qube worker mode filters."""

    def filters(self):
        return {
            "qube_mode_plan": qube_mode_plan,
            "qube_mode_errors": qube_mode_errors,
            "qube_mode_install_needed": qube_mode_install_needed,
            "qube_mode_accounts": qube_mode_accounts,
            "qube_mode_dscl_accounts": qube_mode_dscl_accounts,
        }
