# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every inventory check the controller can make, for every worker, before any host changes.

:func:`validate_farm` combines

* ``settings.validate_farm``: Qube! keys, placement, section names, templates, group settings;
* ``modes.validate``: run mode, desktop user, Windows desktop + user mode, auto-logon password
  from Ansible Vault, package files (checks that need the host, such as "the desktop user
  exists", are left to the worker_mode role, which makes them read-only before it changes
  anything);
* the identity checks below: proxy password present where it is needed and not the vendor's
  published default, no privileged job identity unless allowed, AD name forms, validation paths,
  user-mode submitters, Windows user passwords;
* types and choices of the role variables, and ``qube_*`` variables no role knows (typos).

Each message names the host, the variable and the fix. Password values are never part of a
message. Role defaults are not in ``hostvars`` on the controller, so :data:`DEFAULTS` repeats the
ones the checks need (a unit test keeps them equal to the roles' ``defaults/main.yml``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ntpath
import posixpath

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.renderfarm.qube.plugins.module_utils import modes, settings

PUBLISHED_DEFAULT_PASSWORD = "Pip3lin3P@$$wd"
EXECUTION_MODES = ("proxy", "user")
UPDATE_PASSWORD_CHOICES = ("always", "on_create")
# Account names that are privileged by themselves, compared case-insensitively (bare names).
PRIVILEGED_NAMES = frozenset((
    "root", "toor", "admin", "administrator", "administrators", "sudo", "wheel", "system",
    "localsystem", "domain admins", "enterprise admins"))
DEFAULTS = {
    "qube_worker_mode": "service", "qube_desktop_user": "", "qube_desktop_linger": False,
    "qube_worker_install": True, "qube_worker_package_files": [], "qube_windows_auto_logon": False,
    "qube_windows_auto_logon_password": "", "qube_proxy_execution_mode": "proxy",
    "qube_proxy_account": "qubeproxy", "qube_worker_host_domain": "", "qube_proxy_account_manage": True,
    "qube_user_mode_users": [], "qube_windows_user_passwords": [], "qube_allow_privileged_identity": False,
    "qube_update_password": "always", "qube_validate_identity": True, "qube_validation_paths": [],
    "qube_validation_timeout": 60, "qube_ad_check": {},
}
BOOL_VARIABLES = ("qube_desktop_linger", "qube_worker_install", "qube_windows_auto_logon",
                  "qube_proxy_account_manage", "qube_allow_privileged_identity", "qube_validate_identity")
STRING_VARIABLES = ("qube_worker_mode", "qube_desktop_user", "qube_proxy_account", "qube_worker_host_domain")
# Variables of the whole farm or of the plays, and facts the roles set on workers.
FARM_VARIABLES = frozenset((
    "qube_templates", "qube_group_settings", "qube_serial", "qube_max_fail_percentage",
    "qube_workers_group", "qube_proxy_password", "qube_farm_wide_settings"))
RUNTIME_FACTS = frozenset((
    "qube_report", "qube_job_identity", "qube_config_state", "qube_config_readback",
    "qube_identity_validation", "qube_worker_mode_effective", "qube_worker_mode_job_flags_required"))
_SYSTEMS = {"linux": "Linux", "osx": "Darwin", "winnt": "Windows"}
_TRUE = ("yes", "on", "1", "true", "y", "t")
_FALSE = ("no", "off", "0", "false", "n", "f")


def _never_vaulted(value):
    return False


def as_bool(value):
    """The boolean Ansible would make of ``value``, or None when it is not a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    return None


class _Host(object):
    """One worker's variables with the role defaults, and the list its problems go to."""

    def __init__(self, name, hostvars, is_vaulted, defaults=None):
        self.name = name
        self.hostvars = hostvars
        self.is_vaulted = is_vaulted
        self.defaults = dict(DEFAULTS, **(defaults or {}))
        self.errors = []

    def get(self, var):
        value = self.hostvars.get(var)
        return self.defaults.get(var) if value is None else value

    def flag(self, var):
        value = as_bool(self.get(var))
        return bool(value) if value is not None else bool(self.defaults.get(var))

    def error(self, text):
        self.errors.append("%s: %s" % (self.name, text))


def _check_types(host):
    for var in BOOL_VARIABLES:
        if as_bool(host.get(var)) is None:
            host.error("%s must be true or false (got %r). Set it to true or false." % (var, host.get(var)))
    for var in STRING_VARIABLES:
        if not isinstance(host.get(var), str):
            host.error("%s must be a string (got %r). Quote the value in the inventory." % (var, host.get(var)))
    if host.get("qube_update_password") not in UPDATE_PASSWORD_CHOICES:
        host.error("qube_update_password must be one of %s (got %r). Use always (re-register a changed "
                   "password) or on_create." % (", ".join(UPDATE_PASSWORD_CHOICES), host.get("qube_update_password")))
    timeout = host.get("qube_validation_timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        host.error("qube_validation_timeout must be a whole number of seconds > 0 (got %r). Set it, e.g. 60."
                   % (timeout,))
    if not isinstance(host.get("qube_ad_check"), dict):
        host.error("qube_ad_check must be a dict {server, realm, ca_file} or {} (got a %s). Fix it or remove it."
                   % type(host.get("qube_ad_check")).__name__)


def _check_mode(host, os_name):
    """modes.validate with what the controller knows (no look at the host)."""
    files = host.get("qube_worker_package_files")
    if not isinstance(files, (list, tuple)) or not all(isinstance(f, str) for f in files):
        host.error("qube_worker_package_files must be a list of package file paths. Fix the value.")
        files = []
    password = host.get("qube_windows_auto_logon_password")
    host.errors.extend(modes.validate(
        host.name, host.get("qube_worker_mode"), _SYSTEMS[os_name],
        desktop_user=host.get("qube_desktop_user") or None,
        proxy_execution_mode=host.get("qube_proxy_execution_mode"),
        auto_logon=host.flag("qube_windows_auto_logon"),
        auto_logon_password_set=bool(password),
        auto_logon_password_vaulted=bool(password) and bool(host.is_vaulted(password)),
        install=host.flag("qube_worker_install"), package_files=files))


def _check_password(host, var, value):
    """A password variable: a non-empty string and not the vendor's published default."""
    if not isinstance(value, str) or not value:
        host.error("%s must be a non-empty string (value not shown). Put the password in Ansible Vault "
                   "and reference it." % var)
    elif value == PUBLISHED_DEFAULT_PASSWORD:
        host.error("%s is the vendor's published default password, which anyone can look up. Choose a "
                   "new password and store it in Ansible Vault." % var)


def _check_privileged(host, var, account):
    if host.flag("qube_allow_privileged_identity") or not isinstance(account, str):
        return
    if account.strip().lower() in PRIVILEGED_NAMES:
        host.error("%s is %r, a privileged account: every job would run with full rights on the host. Use "
                   "an unprivileged account, or set qube_allow_privileged_identity: true if this is "
                   "intended." % (var, account))


def _user_list(host, var):
    value = host.get(var)
    if not isinstance(value, (list, tuple)) or not all(isinstance(u, str) and u for u in value):
        host.error("%s must be a list of user names (got %r). Fix the value." % (var, value))
        return []
    return list(value)


def _windows_user_entries(host):
    value = host.get("qube_windows_user_passwords")
    if not isinstance(value, (list, tuple)):
        host.error("qube_windows_user_passwords must be a list of {name, password, domain}. Fix the value.")
        return []
    names = []
    for index, entry in enumerate(value):
        label = "qube_windows_user_passwords[%d]" % index
        if not isinstance(entry, dict) or not entry.get("name") or not isinstance(entry.get("name"), str):
            host.error("%s has no name. Give each entry a name and a password (from Ansible Vault)." % label)
            continue
        names.append(entry["name"])
        if not entry.get("password"):
            host.error("%s (%s) has no password. Add the user's password from Ansible Vault." % (label, entry["name"]))
        else:
            _check_password(host, label + ".password", entry["password"])
    return names


def _windows_absolute(path):
    """C:\\dir or \\\\server\\share\\dir: a drive (or share) and a rooted path."""
    return bool(ntpath.splitdrive(path)[0]) and ntpath.isabs(path)


def _check_paths(host, os_name):
    paths = host.get("qube_validation_paths")
    isabs = _windows_absolute if os_name == "winnt" else posixpath.isabs
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, str) and isabs(p) for p in paths):
        host.error("qube_validation_paths must be a list of absolute paths (got %r). List the folders the job "
                   "identity must reach, e.g. [/srv/renders]%s." % (paths, " or ['C:\\\\renders']" if os_name == "winnt" else ""))


def _check_identity(host, os_name):
    """Proxy account, password, AD names, user-mode submitters, privileged identities."""
    mode = host.get("qube_worker_mode")
    exec_mode = host.get("qube_proxy_execution_mode")
    account = host.get("qube_proxy_account")
    domain = host.get("qube_worker_host_domain")
    password = host.hostvars.get("qube_proxy_password")
    _check_paths(host, os_name)
    windows_names = _windows_user_entries(host)
    submitters = _user_list(host, "qube_user_mode_users")
    if isinstance(domain, str) and domain and ("\\" in domain or "@" in domain):
        host.error("qube_worker_host_domain %r must be the bare domain name (e.g. MYCORP). Remove the user "
                   "part." % domain)
    if isinstance(host.get("qube_ad_check"), dict) and host.get("qube_ad_check") and not domain:
        host.error("qube_ad_check is set but qube_worker_host_domain is empty, so the proxy account is not an "
                   "AD account. Set qube_worker_host_domain to the domain (e.g. MYCORP) or remove qube_ad_check.")
    if password is not None:
        _check_password(host, "qube_proxy_password", password)
    if mode != "service" or exec_mode not in EXECUTION_MODES:
        if mode == "desktop" and host.get("qube_desktop_user"):
            _check_privileged(host, "qube_desktop_user", host.get("qube_desktop_user"))
        return
    if exec_mode == "proxy":
        _check_privileged(host, "qube_proxy_account", account)
        local_managed = not domain and host.flag("qube_proxy_account_manage")
        if password is None and (local_managed or os_name == "winnt"):
            why = ("the Windows worker registers it for the proxy account" if os_name == "winnt"
                   else "the role creates the local proxy account %r with it" % account)
            host.error("qube_proxy_password is not set, but %s. Set qube_proxy_password from Ansible Vault."
                       % why)
        return
    for user in submitters + windows_names:
        _check_privileged(host, "qube_user_mode_users" if user in submitters else "qube_windows_user_passwords",
                          user)
    if os_name == "winnt" and not windows_names:
        host.error("qube_proxy_execution_mode is user but qube_windows_user_passwords is empty. List the "
                   "submitters with their passwords (from Ansible Vault) so qblogin can register them.")
    elif os_name != "winnt" and not submitters:
        host.error("qube_proxy_execution_mode is user but qube_user_mode_users is empty. List the submitters "
                   "that must resolve on this Linux/macOS worker (the validation job runs as the first).")


def _check_unknown(host, known_variables):
    for var in sorted(str(v) for v in host.hostvars.keys() if str(v).startswith("qube_")):
        if var not in known_variables:
            host.error("%s is not a renderfarm.qube variable. Check the spelling (see the roles' "
                       "defaults/main.yml) or remove it." % var)


def known_variables(role_variables=()):
    """Every public ``qube_*`` name: the settings catalogue, farm variables, runtime facts and roles'."""
    return (settings.GROUP_VARIABLES | FARM_VARIABLES | RUNTIME_FACTS | frozenset(DEFAULTS)
            | frozenset(role_variables))


def validate_host(name, hostvars, known=None, is_vaulted=None, defaults=None):
    """Problems of one worker beyond settings.validate_host (mode, identity, types, unknown names)."""
    host = _Host(name, hostvars, is_vaulted or _never_vaulted, defaults)
    os_name = settings.detect_os(hostvars)
    _check_types(host)
    if known is not None:
        _check_unknown(host, known)
    if os_name not in _SYSTEMS:  # settings.validate_farm reports qube_os
        return host.errors
    _check_mode(host, os_name)
    _check_identity(host, os_name)
    return host.errors


def settings_problems(hostvars_by_name):
    """settings.validate_farm; when it fails on a value it does not expect, each host on its own.

    A host whose settings check raises gets a message that names the likely variables instead of
    a traceback (the exception text is not shown: it could hold a value from the inventory).
    """
    try:
        return list(settings.validate_farm(hostvars_by_name))
    except Exception:  # pylint: disable=broad-except
        pass
    errors = []
    for name in sorted(hostvars_by_name):
        hostvars = hostvars_by_name[name]
        failure = None
        try:
            errors.extend(settings.validate_host(name, hostvars))
        except Exception as exc:  # pylint: disable=broad-except
            failure = type(exc).__name__
        if failure is None:
            continue
        placement = hostvars.get("qube_config_placement")
        if placement is not None and placement not in ("central", "local"):
            errors.append("%s: qube_config_placement must be central or local (got %r). Set it to central "
                          "(qbwrk.conf on the supervisor) or local (qb.conf on the worker)." % (name, placement))
        else:
            errors.append("%s: the Qube! settings of this host cannot be checked (%s). Check the types of its "
                          "qube_* variables, qube_config_placement and qube_config_placement_overrides."
                          % (name, failure))
    return errors


def spec_problems(name, hostvars, specs, defaults):
    """What the roles' argument specs refuse in one worker's variables, named by variable and host.

    Types, choices and element types come from the specs (the same check the roles make when
    they start); a string whose role default is not empty must not be empty, and no string may be
    only whitespace. Secrets (``no_log``) are checked elsewhere without showing their value.
    """
    given = dict((var, hostvars[var]) for var in specs if var in hostvars and not specs[var].get("no_log"))
    errors = []
    if given:
        plain = dict((var, dict((k, v) for k, v in option.items() if k not in ("description", "default", "version_added")))
                     for var, option in specs.items() if var in given)
        result = ArgumentSpecValidator(plain).validate(given)
        errors.extend("%s: %s (the roles' argument specs refuse it). Fix the value in the inventory."
                      % (name, message) for message in result.error_messages)
    for var, value in sorted(given.items()):
        if specs[var].get("type", "str") not in ("str", "path") or not isinstance(value, str):
            continue
        if value and not value.strip():
            errors.append("%s: %s is only whitespace. Give a value or remove the variable." % (name, var))
        elif not value and isinstance(defaults.get(var), str) and defaults.get(var):
            errors.append("%s: %s is empty; the roles need a value (default %r). Remove the variable to use the "
                          "default." % (name, var, defaults[var]))
    return errors


def validate_farm(hostvars_by_name, known=None, is_vaulted=None, defaults=None, specs=None):
    """Every problem of every worker at once: settings, then per host mode/identity/type checks.

    ``known`` is the set of allowed ``qube_*`` names (None skips the unknown-variable check);
    ``is_vaulted(value)`` says whether a value came from an inline Ansible Vault string;
    ``defaults`` and ``specs`` are the workers' roles' defaults and argument specs (the action
    plugin reads them from the roles; :data:`DEFAULTS` stands in when they are not given).
    """
    errors = settings_problems(hostvars_by_name)
    for name in sorted(hostvars_by_name):
        hostvars = hostvars_by_name[name]
        host_errors = validate_host(name, hostvars, known, is_vaulted, defaults)
        if specs:
            # A variable another check already named for this host is not reported twice.
            mine = host_errors + [error for error in errors if error.startswith(name + ":")]
            named = set(var for var in specs if any(var in error for error in mine))
            host_errors.extend(error for error in spec_problems(name, hostvars, specs, defaults or DEFAULTS)
                               if not any(var in error for var in named))
        errors.extend(host_errors)
    return errors
