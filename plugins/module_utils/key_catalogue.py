# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Qube! key catalogue: the keys the collection knows, their kinds, the public variables that
set them, and the conversion of an inventory value into a qb.conf value.

What goes where and why is told in ``settings.py`` (the entry point, which re-exports these names).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConfError, render_value

BOOTSTRAP_KEYS = frozenset((
    "qb_directory", "qb_domain", "qb_supervisor", "worker_address", "worker_boot_delay",
    "worker_journal_location", "worker_lookup", "worker_max_threads", "worker_pidfile", "worker_port"))
OS_NAMES = ("linux", "osx", "winnt")
DEFAULT_WORKER_FLAGS = {"linux": ["remove_logs"], "osx": ["remove_logs"],
                        "winnt": ["remove_logs", "load_profile", "auto_mount"]}
WORKER_FLAGS = ("dedicated", "dynamic", "auto_mount", "remove_logs", "load_profile", "auto_remove")
PASSWORD_PLACEHOLDER = "__qube_proxy_password__:"
DEFAULT_QBDIR = {"linux": "/usr/local/pfx/qube", "osx": "/Applications/pfx/qube", "winnt": "C:/Program Files/pfx/qube"}
DEFAULT_DESKTOP_WORKER_DIR = "/var/spool/qube/desktop"
# Desktop User mode on Linux/macOS: key -> file name inside qube_desktop_worker_dir ("" = the folder).
DESKTOP_PATH_KEYS = {"worker_logfile": "workerlog", "worker_logpath": "", "worker_journal_location": "worker.jnl",
                     "worker_pidfile": "worker.pid"}

# Documented keys -> kind of value (see _convert).
KEY_KINDS = {
    "qb_directory": "str", "qb_domain": "str", "qb_supervisor": "str", "worker_address": "str",
    "worker_boot_delay": "count", "worker_journal_location": "str", "worker_lookup": "lookup",
    "worker_max_threads": "count", "worker_pidfile": "str", "worker_port": "port",
    "worker_cpus": "count", "worker_cluster": "cluster", "worker_restrictions": "restrictions",
    "worker_groups": "list", "worker_properties": "properties", "worker_resources": "properties",
    "worker_job_types": "list", "worker_description": "str", "worker_flags": "flags",
    "worker_logfile": "str", "worker_logpath": "str", "worker_logmode": "logmode",
    "worker_log_timeout": "count", "worker_template_path": "pathlist",
    "worker_flight_check_path": "str", "worker_drive_map": "drive_map", "worker_path_map": "path_map",
    "worker_heartbeat_interval": "count", "worker_check_interval": "count",
    "worker_post_interval": "count", "worker_idle_threads": "count", "worker_max_clients": "count",
    "worker_boot_diagnostics_retries": "count", "worker_boot_diagnostics_retry_interval": "count",
    "worker_host_domain": "str", "proxy_execution_mode": "execution_mode", "proxy_account": "account",
    "proxy_password": "secret", "proxy_location": "str", "proxy_nice_value": "nice",
    "client_cluster": "cluster", "client_restrictions": "restrictions", "client_priority": "count",
    "client_account": "str", "client_host_domain": "str", "client_drive_map": "drive_map",
    "client_job_flags": "list", "client_logpath": "str", "database_password": "secret",
}

# Public variable -> Qube! key.
VARIABLES = {
    "qube_supervisor": "qb_supervisor", "qube_domain": "qb_domain", "qube_worker_port": "worker_port",
    "qube_worker_lookup": "worker_lookup", "qube_worker_cpus": "worker_cpus",
    "qube_worker_groups": "worker_groups", "qube_worker_cluster": "worker_cluster",
    "qube_worker_restrictions": "worker_restrictions", "qube_worker_properties": "worker_properties",
    "qube_worker_resources": "worker_resources", "qube_worker_flags": "worker_flags",
    "qube_worker_description": "worker_description", "qube_worker_logfile": "worker_logfile",
    "qube_worker_logpath": "worker_logpath", "qube_worker_logmode": "worker_logmode",
    "qube_worker_template_path": "worker_template_path", "qube_worker_drive_map": "worker_drive_map",
    "qube_worker_path_map": "worker_path_map", "qube_proxy_execution_mode": "proxy_execution_mode",
    "qube_proxy_account": "proxy_account", "qube_worker_host_domain": "worker_host_domain",
}
OTHER_VARIABLES = (
    "qube_bootstrap_settings", "qube_worker_settings", "qube_allow_unknown_keys",
    "qube_config_placement", "qube_config_placement_overrides", "qube_worker_name", "qube_os",
    "qube_worker_templates", "qube_worker_flags_replace_defaults", "qube_desktop_worker_dir")
GROUP_VARIABLES = frozenset(VARIABLES) | frozenset(OTHER_VARIABLES)

HINTS = {
    None: "Fix the value in the inventory.",
    "worker_cpus": "Set it to a number of job slots or 0 for all cores.",
    "worker_port": "Set it to the worker's TCP/UDP port (default 50011) on the worker and the supervisor.",
    "worker_cluster": "Set a cluster path such as /projects/show.",
    "worker_flags": "Give a list of flag names; the OS defaults are kept unless "
                    "qube_worker_flags_replace_defaults is true.",
    "worker_drive_map": "Give a list of {drive: 'X:', path: '\\\\SERVER\\SHARE'} (optional user and "
                        "password_hash).",
    "worker_path_map": "Give a dict or a list of {from, to} pairs.",
    "proxy_account": "Set qube_proxy_account to the bare user name and qube_worker_host_domain to the domain.",
    "proxy_execution_mode": "Use proxy (jobs run as the proxy account) or user (jobs run as the submitter).",
    "worker_logmode": "Use remote (default) or mounted (shared log directory).",
    "worker_template_path": "List the local job types folder first, then your shared ones, e.g. "
                            "['/usr/local/pfx/qube/types', '/mnt/jobtypes'] (Windows: ['C:/Program Files/pfx/qube/types', "
                            "'//server/share/jobtypes']).",
}
_CHOICES = {"logmode": ("remote", "mounted"), "execution_mode": ("proxy", "user")}


def local_only_reason(key):
    """Why ``key`` only works in the local qb.conf (vendor doc), or None when it may go central."""
    if key in BOOTSTRAP_KEYS:
        return "a bootstrap key, read only from the local qb.conf (CPR worker_lookup.md)"
    if key.startswith("client_"):
        return ("a client key; clients read only their local qb.conf "
                "(administrators-guide/configuring-qube/Client+Configuration.md)")
    if key == "worker_template_path":
        return ("kept in the local qb.conf: the vendor says it may not work from qbwrk.conf "
                "(knowledge-base/tips-&-tricks/Jobtypes/How+do+I+set+my+own+shared+directory+for+job+types.md)")
    return None


class SettingsError(ValueError):
    """Invalid inventory; ``errors`` lists every message."""

    def __init__(self, errors):
        self.errors = list(errors)
        ValueError.__init__(self, "\n".join(self.errors))


class _Invalid(Exception):
    """A value of the wrong kind; the message says what is expected."""


def _text(value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Invalid("must be a string")
    return str(value)


def _int(value, low=0, high=None):
    if isinstance(value, bool):
        raise _Invalid("must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < low or (high is not None and number > high):
        raise _Invalid("must be an integer between %s and %s" % (low, high) if high is not None
                       else "must be an integer >= %s" % low)
    return number


def _items(value):
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) and "," not in item for item in value):
        return list(value)
    raise _Invalid("must be a list of names (or one comma-separated string)")


def _convert(kind, value, os_name):
    """Check ``value`` for a key of ``kind``; return the Python value to render."""
    if kind in ("str", "account"):
        text = _text(value)
        if kind == "account" and ("\\" in text or "@" in text):
            raise _Invalid("must be a bare user name, not DOMAIN\\user or user@domain; put the domain "
                           "in qube_worker_host_domain")
        return text
    if kind == "count":
        return _int(value)
    if kind == "port":
        return _int(value, 1, 65535)
    if kind == "nice":
        return _int(value, -20, 20)
    if kind in _CHOICES:
        if value not in _CHOICES[kind]:
            raise _Invalid("must be one of %s" % ", ".join(_CHOICES[kind]))
        return value
    if kind == "list":
        return _items(value)
    if kind == "lookup":
        items = _items(value)
        if not items or any(item not in ("local", "supervisor") for item in items):
            raise _Invalid("must list local and/or supervisor, e.g. [local, supervisor]")
        return items
    if kind == "flags":
        items = _items(value)
        unknown = [item for item in items if item not in WORKER_FLAGS]
        if unknown:
            raise _Invalid("has unknown flags %s; known flags: %s" % (", ".join(unknown), ", ".join(WORKER_FLAGS)))
        return items
    if kind == "cluster":
        text = _text(value)
        if not text.startswith("/"):
            raise _Invalid("must be a cluster path starting with /, e.g. /projects/show")
        return text
    if kind == "restrictions":
        return " || ".join(_items(value)) if isinstance(value, (list, tuple)) else _text(value)
    if kind == "properties":
        if not isinstance(value, dict):
            raise _Invalid("must be a dict of name: value")
        out = {}
        for name, item in value.items():
            text = _text(item)
            if re.search(r"[,=\s]", str(name) + text):
                raise _Invalid("names and values may not contain commas, '=' or spaces")
            out[name if str(name).startswith("host.") else "host.%s" % name] = text
        return out
    if kind == "pathlist":
        if isinstance(value, str):
            return value
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            raise _Invalid("must be a list of directories")
        if os_name is None:
            raise _Invalid("must be one string in a template (the separator depends on the OS)")
        return (";" if os_name == "winnt" else ":").join(value)
    if kind in ("drive_map", "path_map"):
        if kind == "drive_map" and isinstance(value, (list, tuple)) and any(
                isinstance(entry, dict) and "password" in entry for entry in value):
            raise _Invalid("must not hold a plaintext password; give password_hash (the qbhash output)")
        try:
            render_value("worker_%s" % kind, value)
        except QbConfError as exc:
            raise _Invalid("is malformed: %s" % exc)
        return value
    raise _Invalid("is a secret and is never taken from inventory; the identity role computes it")
