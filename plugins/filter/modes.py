# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Template-facing entry points of the worker mode decisions (``module_utils/modes*.py``) for the worker_mode role.

* ``qube_mode_plan``: what must be present/absent for the worker's mode (``modes.plan``).
* ``qube_mode_errors``: every problem with a host's mode settings (``modes.validate``).
* ``qube_mode_install_needed``: whether the worker packages must be installed.
* ``qube_mode_accounts``: ``{user: {home, uid}}`` from an ``ansible.builtin.getent`` result.
* ``qube_mode_dscl_accounts``: the same from looped macOS ``dscl`` reads.
* ``qube_mode_launchd_disabled``: whether ``launchctl print-disabled`` lists a label as disabled.
* ``qube_mode_is_ours`` / ``qube_mode_agent_action``: whether a LaunchAgent is ours, and what to
  do with it (``modes_darwin.darwin_agent_action``).
* ``qube_mode_windows_rights`` / ``qube_mode_windows_service_groups``: the user rights (and group
  membership) of the Windows worker service's account (``modes_windows.windows_rights``).
* ``qube_conf_has_active_key``: whether a qb.conf text has an active ``key = ...`` line (a
  comment that mentions the key does not count).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.renderfarm.qube.plugins.module_utils import (
    modes, modes_darwin, modes_packages, modes_windows, qbconf)


def qube_mode_plan(mode, os_family, desktop_user=None, linger=False, accounts=None,
                   previous=None, qbdir=None, auto_logon=False, worker_unit="worker",
                   daemon_label="com.pipelinefx.worker",
                   agent_label="com.pipelinefx.DesktopWorker", windows_service="qubeworker",
                   desktop_worker_dir=modes.DEFAULT_DESKTOP_WORKER_DIR, daemon_plist="",
                   startup_target="", startup_arguments="", service_account=""):
    """``{{ qube_worker_mode | renderfarm.qube.qube_mode_plan(ansible_facts['system'], ...) }}``."""
    try:
        return modes.plan(mode, os_family, desktop_user=desktop_user, linger=linger,
                          accounts=accounts, previous=previous, qbdir=qbdir,
                          auto_logon=auto_logon, worker_unit=worker_unit,
                          daemon_label=daemon_label, agent_label=agent_label,
                          windows_service=windows_service, desktop_worker_dir=desktop_worker_dir,
                          daemon_plist=daemon_plist, startup_target=startup_target,
                          startup_arguments=startup_arguments, service_account=service_account)
    except ValueError as exc:
        raise AnsibleFilterError("qube_mode_plan: %s" % exc)


def qube_mode_errors(host, mode, os_family, desktop_user=None, user_exists=None,
                     home_exists=None, proxy_execution_mode=None, auto_logon=False,
                     auto_logon_password_set=False, auto_logon_password_vaulted=False,
                     install=False, package_files=None,
                     desktop_worker_dir=modes.DEFAULT_DESKTOP_WORKER_DIR, service_account="",
                     service_password_set=False, service_password_vaulted=False):
    """``{{ inventory_hostname | renderfarm.qube.qube_mode_errors(qube_worker_mode, ...) }}``."""
    return modes.validate(host, mode, os_family, desktop_user=desktop_user,
                          user_exists=user_exists, home_exists=home_exists,
                          proxy_execution_mode=proxy_execution_mode,
                          auto_logon=bool(auto_logon),
                          auto_logon_password_set=bool(auto_logon_password_set),
                          auto_logon_password_vaulted=bool(auto_logon_password_vaulted),
                          install=bool(install), package_files=list(package_files or []),
                          desktop_worker_dir=desktop_worker_dir, service_account=service_account,
                          service_password_set=bool(service_password_set),
                          service_password_vaulted=bool(service_password_vaulted))


def qube_mode_install_needed(version, installed, packages=None, package_files=None):
    """``{{ qube_worker_version | renderfarm.qube.qube_mode_install_needed(ansible_facts['packages'], ...) }}``."""
    return modes_packages.install_needed(version, installed, packages=packages, package_files=package_files)


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
            account = modes_darwin.parse_dscl(result.get("stdout", ""))
            if account:
                accounts[result["item"]] = account
    return accounts


def qube_mode_launchd_disabled(print_disabled, label):
    """``{{ result.stdout | renderfarm.qube.qube_mode_launchd_disabled('com.pipelinefx.worker') }}``."""
    return modes_darwin.launchd_disabled(print_disabled, label)


def qube_mode_is_ours(text):
    """``{{ plist_text | renderfarm.qube.qube_mode_is_ours }}``: written by this collection."""
    return modes.is_ours(text)


def qube_mode_agent_action(active, exists, ours):
    """``{{ user.active | renderfarm.qube.qube_mode_agent_action(exists, ours) }}``."""
    return modes_darwin.darwin_agent_action(bool(active), bool(exists), bool(ours))


def qube_mode_windows_rights(service_account, mode="service"):
    """``{{ qube_windows_service_account | renderfarm.qube.qube_mode_windows_rights(qube_worker_mode) }}``."""
    return modes_windows.windows_rights(service_account, mode)


def qube_mode_windows_service_groups(service_account, mode="service"):
    """``{{ qube_windows_service_account | renderfarm.qube.qube_mode_windows_service_groups(qube_worker_mode) }}``."""
    return modes_windows.windows_service_groups(service_account, mode)


def qube_conf_has_active_key(text, key):
    """``{{ conf_text | renderfarm.qube.qube_conf_has_active_key('proxy_password') }}``."""
    return key in qbconf.QbConf(text or "").keys()


class FilterModule(object):
    """renderfarm.qube worker mode filters."""

    def filters(self):
        return {
            "qube_mode_plan": qube_mode_plan,
            "qube_mode_errors": qube_mode_errors,
            "qube_mode_install_needed": qube_mode_install_needed,
            "qube_mode_accounts": qube_mode_accounts,
            "qube_mode_dscl_accounts": qube_mode_dscl_accounts,
            "qube_mode_launchd_disabled": qube_mode_launchd_disabled,
            "qube_mode_is_ours": qube_mode_is_ours,
            "qube_mode_agent_action": qube_mode_agent_action,
            "qube_mode_windows_rights": qube_mode_windows_rights,
            "qube_mode_windows_service_groups": qube_mode_windows_service_groups,
            "qube_conf_has_active_key": qube_conf_has_active_key,
        }
