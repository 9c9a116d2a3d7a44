# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Qube! key catalogue and the per-host decisions made from inventory variables.

Public inventory variables (the contract with the roles) map to Qube! keys, see ``VARIABLES``;
``qube_worker_settings`` may set any other documented key (``KEY_KINDS``), and
``qube_allow_unknown_keys`` opts in to keys the catalogue does not know.  Bootstrap keys always
go to the local qb.conf; every other key goes where ``qube_config_placement`` (central|local,
default central) and ``qube_config_placement_overrides`` ({key: local|central}) say.

Group settings (one documented mechanism): Ansible merges group_vars silently, so two groups
that disagree cannot be noticed from ordinary variables.  Put group-level Qube! variables in
``qube_group_settings: {<group>: {<qube_* variable>: value}}`` (for example in
``group_vars/all``).  For each host, a variable the host itself defines wins; otherwise the
value comes from the host's groups (``group_names``) in that dict, and two of its groups giving
different values is an error naming both groups.

Passwords are never taken from inventory: ``proxy_password`` is filled in from a map
``{account: qbhash output}`` by :func:`fill_secrets`.  A Windows host in proxy mode with
``qube_proxy_account`` set gets ``PASSWORD_PLACEHOLDER + account`` as its ``proxy_password``,
always placed central: the supervisor's qbwrk.conf (0600) reaches only the worker, while the local
qb.conf on Windows is read by clients and Desktop User workers too.

Keys that only work in the local qb.conf (``LOCAL_ONLY_KEYS``, see :func:`local_only_reason`):
the bootstrap keys (CPR worker_lookup.md), the ``client_*`` keys (clients read only their local
qb.conf: administrators-guide/configuring-qube/Client+Configuration.md) and
``worker_template_path`` (CPR worker_template_path.md; KB "How do I set my own shared directory
for job types": it may not work from qbwrk.conf).  A Desktop User worker on Linux/macOS runs as
the desktop user, who cannot write the default log, spool, journal and pid paths under /var (CPR
worker_logfile.md, worker_logpath.md, worker_journal_location.md, worker_pidfile.md; an unwritable
log path sends the worker to panic: worker_boot_diagnostics_retries.md): those four keys then point
into ``qube_desktop_worker_dir`` in the local qb.conf (:data:`DESKTOP_PATH_KEYS`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.renderfarm.qube.plugins.module_utils.confwrite import SECRET_KEYS
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConfError, render_value
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import RESERVED_SECTIONS, SECTION_NAME_RE, sections_needed

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


def detect_os(hostvars):
    """qube_os, else winnt for winrm/psrp connections or Windows facts, osx for Darwin, else linux."""
    if hostvars.get("qube_os"):
        return hostvars["qube_os"]
    if hostvars.get("ansible_connection") in ("winrm", "psrp"):
        return "winnt"
    system = hostvars.get("ansible_system") or hostvars.get("ansible_facts", {}).get("system")
    family = hostvars.get("ansible_os_family") or hostvars.get("ansible_facts", {}).get("os_family")
    if system == "Win32NT" or family == "Windows":
        return "winnt"
    if system == "Darwin" or family == "Darwin":
        return "osx"
    return "linux"


def _resolve(name, hostvars, errors):
    """Public variables of the host: its own values, then values from qube_group_settings."""
    resolved = dict((var, hostvars[var]) for var in GROUP_VARIABLES if var in hostvars)
    group_settings = hostvars.get("qube_group_settings") or {}
    if not isinstance(group_settings, dict):
        errors.append("%s: qube_group_settings must be a dict {group: {qube_* variable: value}}. "
                      "Fix its definition in group_vars." % name)
        return resolved
    sources = {}
    for group in hostvars.get("group_names") or []:
        values = group_settings.get(group) or {}
        if not isinstance(values, dict):
            errors.append("%s: qube_group_settings[%s] must be a dict of qube_* variables." % (name, group))
            continue
        for var, value in values.items():
            if var not in GROUP_VARIABLES:
                errors.append("%s: qube_group_settings[%s] sets %s, which is not a renderfarm.qube "
                              "variable. Use one of the documented qube_* variables." % (name, group, var))
            elif var not in resolved:
                sources.setdefault(var, []).append((group, value))
    for var, found in sorted(sources.items()):
        if any(value != found[0][1] for _group, value in found[1:]):
            groups = " and ".join(group for group, _value in found)
            errors.append("%s: groups %s set %s to different values. Set %s for this host in host_vars "
                          "or make the groups agree." % (name, groups, var, var))
        resolved[var] = found[0][1]
    return resolved


def _placement(key, variables, name, errors, os_name="linux", forced_local=()):
    overrides = variables.get("qube_config_placement_overrides") or {}
    where = overrides.get(key, variables.get("qube_config_placement") or "central")
    reason = local_only_reason(key)
    if reason or key in forced_local:
        if overrides.get(key, "local") != "local":
            errors.append("%s: %s is %s; remove it from qube_config_placement_overrides (it is always placed "
                          "in the local qb.conf)." % (name, key, reason or "a Desktop User mode path: the worker "
                                                      "runs as the desktop user and must find it locally"))
        return "local"
    if key == "proxy_password" and os_name == "winnt":
        # The local qb.conf on Windows is read by clients and Desktop User workers; the encrypted
        # password goes where only the worker receives it: qbwrk.conf on the supervisor (0600).
        if overrides.get(key, "central") != "central":
            errors.append("%s: proxy_password cannot be placed local on a Windows worker: C:\\ProgramData\\pfx\\qube\\qb.conf "
                          "is readable by every user of the host, so the encrypted password always goes to qbwrk.conf on "
                          "the supervisor. Remove proxy_password from qube_config_placement_overrides." % name)
        return "central"
    if where not in ("central", "local"):
        # Reported once by the choice check in _host(); fall back so every other problem of
        # the host is still found in the same run.
        return "central"
    return where


def _host(name, hostvars):
    """Compute (result dict, errors) for one host."""
    errors = []
    variables = _resolve(name, hostvars, errors)
    os_name = variables.get("qube_os") or detect_os(hostvars)
    if os_name not in OS_NAMES:
        errors.append("%s: qube_os must be one of linux, osx, winnt (got %r). Set it or leave it unset to "
                      "detect it from facts." % (name, os_name))
        os_name = "linux"
    section = variables.get("qube_worker_name")
    if section is None:
        section = str(hostvars.get("inventory_hostname", name)).split(".", 1)[0]
    if not isinstance(section, str) or not section.strip():
        errors.append("%s: qube_worker_name must be the non-empty name the worker registers with (got %r)."
                      % (name, section))
        section = str(name).split(".", 1)[0]
    for var, choices in (("qube_config_placement", ("central", "local")),):
        if variables.get(var, "central") not in choices:
            errors.append("%s: %s must be central or local (got %r)." % (name, var, variables[var]))
    overrides = variables.get("qube_config_placement_overrides") or {}
    if not isinstance(overrides, dict) or any(v not in ("central", "local") for v in overrides.values()):
        errors.append("%s: qube_config_placement_overrides must be a dict {key: central|local}." % name)
        overrides = {}
        variables["qube_config_placement_overrides"] = {}
    allowed_unknown = variables.get("qube_allow_unknown_keys") or []
    if not isinstance(allowed_unknown, (list, tuple)):
        errors.append("%s: qube_allow_unknown_keys must be a list of key names." % name)
        allowed_unknown = []

    values, origin = {}, {}

    def add(key, value, var, kind):
        if key in values:
            errors.append("%s: %s is set twice (by %s and by %s). Set it in one place only."
                          % (name, key, origin[key], var))
            return
        try:
            values[key] = _convert(kind, value, os_name) if kind else value
            origin[key] = var
        except _Invalid as exc:
            shown = "" if key in SECRET_KEYS or key.endswith("drive_map") else " (got %r)" % (value,)
            errors.append("%s: %s %s%s. %s" % (name, var, exc, shown, HINTS.get(key, HINTS[None])))

    for var, key in sorted(VARIABLES.items()):
        if variables.get(var) is not None:
            add(key, variables[var], var, KEY_KINDS[key])
    for var, bootstrap_only in (("qube_bootstrap_settings", True), ("qube_worker_settings", False)):
        extra = variables.get(var) or {}
        if not isinstance(extra, dict):
            errors.append("%s: %s must be a dict {key: value}." % (name, var))
            continue
        for key, value in sorted(extra.items()):
            label = "%s.%s" % (var, key)
            if key in SECRET_KEYS:
                errors.append("%s: %s is a secret and is never taken from inventory. Remove it; the identity "
                              "role hashes the proxy password with qbhash." % (name, label))
            elif bootstrap_only and key not in BOOTSTRAP_KEYS:
                errors.append("%s: %s is not a bootstrap key. Put it in qube_worker_settings." % (name, label))
            elif key in KEY_KINDS:
                add(key, value, label, KEY_KINDS[key])
            elif key in allowed_unknown:
                add(key, value, label, None)
            else:
                errors.append("%s: %s is not a documented Qube! key. Check the spelling, or add %r to "
                              "qube_allow_unknown_keys to opt in." % (name, label, key))
    if "worker_flags" in values and not variables.get("qube_worker_flags_replace_defaults"):
        flags = list(DEFAULT_WORKER_FLAGS[os_name])
        values["worker_flags"] = flags + [flag for flag in values["worker_flags"] if flag not in flags]
    if "worker_drive_map" in values:
        if os_name != "winnt":
            errors.append("%s: qube_worker_drive_map only works on Windows workers (this host is %s). Remove "
                          "it for this host." % (name, os_name))
        elif "auto_mount" not in values.get("worker_flags", ["auto_mount"]):
            errors.append("%s: qube_worker_drive_map needs the auto_mount flag. Add auto_mount to "
                          "qube_worker_flags." % name)
    mode = values.get("proxy_execution_mode", "proxy")
    if os_name == "winnt" and mode == "proxy" and "proxy_account" in values:
        values["proxy_password"] = PASSWORD_PLACEHOLDER + values["proxy_account"]
        if "supervisor" not in values.get("worker_lookup", ["local", "supervisor"]):
            errors.append("%s: qube_worker_lookup is 'local' only, so this Windows worker never reads qbwrk.conf, "
                          "where its encrypted proxy_password goes (it is never written to the local qb.conf on "
                          "Windows). Include supervisor in qube_worker_lookup." % name)
    qbdir = str(values.get("qb_directory") or DEFAULT_QBDIR[os_name])
    if "worker_template_path" in values:
        problem = _template_path_problem(values["worker_template_path"], os_name, qbdir)
        if problem:
            errors.append("%s: %s %s. %s" % (name, origin["worker_template_path"], problem, HINTS["worker_template_path"]))
    forced_local, remove_values = desktop_paths(hostvars, os_name, values)
    for key in overrides:
        if key not in KEY_KINDS and key not in allowed_unknown:
            errors.append("%s: qube_config_placement_overrides names %s, which is not a documented Qube! key."
                          % (name, key))

    templates = variables.get("qube_worker_templates") or []
    defined = hostvars.get("qube_templates") or {}
    if not isinstance(templates, (list, tuple)):
        errors.append("%s: qube_worker_templates must be a list of template names." % name)
        templates = []
    for template in templates:
        if template not in defined:
            errors.append("%s: qube_worker_templates names %r, which is not defined in qube_templates. Define "
                          "it in qube_templates (group_vars/all) or remove it." % (name, template))
    result = {"name": section, "os": os_name, "local": {}, "central": {}, "templates": list(templates),
              "section_ok": bool(SECTION_NAME_RE.match(section)) and section not in RESERVED_SECTIONS}
    for key, value in values.items():
        result[_placement(key, variables, name, errors, os_name, forced_local)][key] = value
    # A key written locally while a template of the host sets it in qbwrk.conf: with the default
    # worker_lookup (local,supervisor) the supervisor's value wins (CPR worker_lookup.md), so the
    # local one would be a contradiction that the read-back reports as drift. Refuse it here.
    lookup = values.get("worker_lookup", ["local", "supervisor"])
    central_wins = "supervisor" in lookup and lookup.index("supervisor") > (lookup.index("local") if "local" in lookup else -1)
    for template in templates:
        overlap = sorted(key for key in (defined.get(template) or {}) if key in result["local"]
                         and not local_only_reason(key)) if isinstance(defined, dict) else []
        if overlap and central_wins:
            errors.append("%s: %s placed in the local qb.conf, but template %r (qube_worker_templates) sets %s in "
                          "qbwrk.conf, which wins with worker_lookup local,supervisor. Remove %s from the template, "
                          "or place it central for this host." % (name, ", ".join(overlap), template,
                                                                  "it" if len(overlap) == 1 else "them",
                                                                  "it" if len(overlap) == 1 else "them"))
    farm_wide = hostvars.get("qube_farm_wide_settings") or {}
    if isinstance(farm_wide, dict) and central_wins:
        for section in ("default", os_name):
            values_there = farm_wide.get(section) if isinstance(farm_wide.get(section), dict) else {}
            overlap = sorted(key for key in values_there if key in result["local"] and not local_only_reason(key))
            if overlap:
                errors.append("%s: %s placed in the local qb.conf, but qube_farm_wide_settings.%s sets %s in qbwrk.conf, "
                              "which wins with worker_lookup local,supervisor. Set it in one place only."
                              % (name, ", ".join(overlap), section, "it" if len(overlap) == 1 else "them"))
    result["remove_local"] = sorted(result["central"])
    result["remove_local_values"] = remove_values
    return result, errors


def desktop_paths(hostvars, os_name, values):
    """Desktop User mode paths: adds them to ``values`` -> (keys forced local, values to take back).

    On Linux/macOS in Desktop User mode the four :data:`DESKTOP_PATH_KEYS` point into
    ``qube_desktop_worker_dir`` (unless inventory sets a key itself). Otherwise the same values are
    returned to be removed from the local qb.conf where exactly they are set (a flip back to service
    mode), so a value somebody else wrote is kept.
    """
    folder = hostvars.get("qube_desktop_worker_dir") or DEFAULT_DESKTOP_WORKER_DIR
    if not isinstance(folder, str) or not folder.startswith("/"):
        folder = DEFAULT_DESKTOP_WORKER_DIR
    folder = folder.rstrip("/") or "/"
    ours = dict((key, folder if not leaf else "%s/%s" % (folder, leaf)) for key, leaf in DESKTOP_PATH_KEYS.items())
    desktop = hostvars.get("qube_worker_mode", "service") == "desktop" and os_name in ("linux", "osx")
    if not desktop:
        if os_name == "winnt":
            return (), {}
        return (), dict((key, value) for key, value in ours.items() if key not in values)
    for key, value in ours.items():
        values.setdefault(key, value)
    return tuple(DESKTOP_PATH_KEYS), {}


def _template_path_problem(value, os_name, qbdir):
    """What is wrong with a worker_template_path for ``os_name``, or None (CPR worker_template_path.md)."""
    separator = ";" if os_name == "winnt" else ":"
    entries = [entry.strip() for entry in str(value).split(separator) if entry.strip()]
    if os_name == "winnt" and any("\\" in entry for entry in entries):
        return ("uses backslashes; on Windows the vendor requires UNC paths written with forward slashes "
                "(//server/share/jobtypes, C:/Program Files/pfx/qube/types)")

    def norm(path):
        path = path.replace("\\", "/")
        lead = "//" if path.startswith("//") else ""
        path = lead + re.sub("/+", "/", path[len(lead):]).rstrip("/")
        return path.lower() if os_name == "winnt" else path

    local = set([norm(qbdir + "/types"), norm("$QBDIR/types"), norm("%QBDIR%/types"), norm("${QBDIR}/types")])
    if not any(norm(entry) in local for entry in entries):
        return ("does not contain the local job types folder %s/types; the vendor says it must always contain "
                "it (compiled job types such as cmdline are installed there)" % qbdir)
    return None


def validate_host(name, hostvars):
    """Every problem of one host's variables, as messages naming variable, host and fix."""
    return _host(name, hostvars)[1]


def host_settings(name, hostvars):
    """``dict(name, os, local, central, remove_local, templates)``; raises :class:`SettingsError`."""
    result, errors = _host(name, hostvars)
    if errors:
        raise SettingsError(errors)
    return result


def _central_key_problems(label, values, os_name, allowed_unknown, where):
    """Problems of keys written into a shared qbwrk.conf section (a template, [default], an OS
    section): no secret, no local-only key, a documented key with a valid value. A drive map's
    value is never shown (it may hold a password hash)."""
    errors = []
    for key, value in sorted(values.items()):
        name = "%s.%s" % (label, key)
        if key in SECRET_KEYS or local_only_reason(key):
            errors.append("%s: %s cannot go in %s (%s). Remove it." % (
                name, key, where, "secret" if key in SECRET_KEYS else local_only_reason(key)))
        elif key not in KEY_KINDS and key not in allowed_unknown:
            errors.append("%s is not a documented Qube! key. Check the spelling or opt in with "
                          "qube_allow_unknown_keys." % name)
        elif key in KEY_KINDS:
            try:
                _convert(KEY_KINDS[key], value, os_name)
            except _Invalid as exc:
                shown = "" if key.endswith("drive_map") else " (got %r)" % (value,)
                errors.append("%s %s%s. %s" % (name, exc, shown, HINTS.get(key, HINTS[None])))
    return errors


def validate_templates(templates, allowed_unknown=()):
    """Problems of the farm-wide ``qube_templates`` dict {name: {key: value}}."""
    errors = []
    if not isinstance(templates, dict):
        return ["qube_templates must be a dict {template name: {key: value}}."]
    for tname, values in sorted(templates.items()):
        if not SECTION_NAME_RE.match(str(tname)) or tname in RESERVED_SECTIONS:
            errors.append("qube_templates: %r is not a usable section name (letters, digits and _ only; not "
                          "default, global_config, linux, osx, winnt, self or this). Rename it." % (tname,))
        if not isinstance(values, dict):
            errors.append("qube_templates.%s must be a dict {key: value}." % tname)
            continue
        errors.extend(_central_key_problems("qube_templates.%s" % tname, values, None, allowed_unknown,
                                            "qbwrk.conf templates"))
    return errors


FARM_WIDE_SECTIONS = {"default": None, "linux": "linux", "osx": "osx", "winnt": "winnt"}


def validate_farm_wide(farm_wide, allowed_unknown=()):
    """Problems of ``qube_farm_wide_settings`` {default|linux|osx|winnt: {key: value}}."""
    if not isinstance(farm_wide, dict):
        return ["qube_farm_wide_settings must be a dict {default|linux|osx|winnt: {key: value}}."]
    errors = []
    for section, values in sorted(farm_wide.items()):
        label = "qube_farm_wide_settings.%s" % section
        if section not in FARM_WIDE_SECTIONS:
            errors.append("%s: [%s] is not a farm-wide section; use default, linux, osx or winnt." % (label, section))
            continue
        if not isinstance(values, dict):
            errors.append("%s must be a dict {key: value}." % label)
            continue
        errors.extend(_central_key_problems(label, values, FARM_WIDE_SECTIONS[section], allowed_unknown, "qbwrk.conf"))
    return errors


def farm_wide_values(farm_wide):
    """``qube_farm_wide_settings`` with every value converted the way host values are."""
    return dict((section, dict((key, _convert(KEY_KINDS[key], value, FARM_WIDE_SECTIONS[section]) if key in KEY_KINDS
                                else value) for key, value in (values or {}).items()))
                for section, values in (farm_wide or {}).items())


def template_values(templates):
    """``qube_templates`` with every value converted the way host values are."""
    return dict((tname, dict((key, _convert(KEY_KINDS[key], value, None) if key in KEY_KINDS else value)
                             for key, value in values.items())) for tname, values in templates.items())


def validate_farm(hostvars_by_name):
    """Every problem across the farm at once: per host, templates, duplicate section names."""
    errors, sections, template_defs = [], {}, {}
    for name in sorted(hostvars_by_name):
        hostvars = hostvars_by_name[name]
        result, host_errors = _host(name, hostvars)
        errors.extend(host_errors)
        sections.setdefault(result["name"], []).append(name)
        template_defs.setdefault(repr(hostvars.get("qube_templates") or {}), []).append(name)
    if len(template_defs) > 1:
        errors.append("qube_templates differs between hosts (%s). Define it once for the whole farm, in "
                      "group_vars/all." % "; ".join(", ".join(v[:3]) for v in template_defs.values()))
    first = hostvars_by_name[sorted(hostvars_by_name)[0]] if hostvars_by_name else {}
    templates = first.get("qube_templates") or {}
    errors.extend(validate_templates(templates, first.get("qube_allow_unknown_keys") or ()))
    errors.extend(_section_name_problems(hostvars_by_name, templates))
    farm_wide_defs = set(repr(hostvars.get("qube_farm_wide_settings") or {}) for hostvars in hostvars_by_name.values())
    if len(farm_wide_defs) > 1:
        errors.append("qube_farm_wide_settings differs between hosts. Define it once for the whole farm, in "
                      "group_vars/all.")
    errors.extend(validate_farm_wide(first.get("qube_farm_wide_settings") or {}, first.get("qube_allow_unknown_keys") or ()))
    for section, hosts in sorted(sections.items()):
        if len(hosts) > 1:
            errors.append("%s: these hosts share the qbwrk.conf section name %r. Give each a unique "
                          "qube_worker_name." % (", ".join(hosts), section))
        if isinstance(templates, dict) and section in templates:
            errors.append("%s: the section name %r is also a template name. Rename the template or set "
                          "qube_worker_name." % (hosts[0], section))
    return errors


def _section_name_problems(hostvars_by_name, templates):
    """Hosts whose name cannot be a qbwrk.conf section although the farm's qbwrk.conf needs one for them.

    Only section names are limited (qbwrk_conf+File+Format.md: letters, digits and _): a host whose
    keys are all local, or whose central values all land in ``[default]``/OS sections, needs none.
    """
    if not isinstance(templates, dict):
        templates = {}
    hosts, invalid, with_templates = [], {}, set()
    for name in sorted(hostvars_by_name):
        # Every host, also one with other problems (its valid values count), so that all problems
        # are listed in one run.
        result = _host(name, hostvars_by_name[name])[0]
        if result["templates"]:
            with_templates.add(result["name"])
        hosts.append({"name": result["name"], "os": result["os"], "settings": result["central"],
                      "templates": [t for t in result["templates"] if t in templates]})
        if not result["section_ok"]:
            invalid[result["name"]] = name
    if not invalid:
        return []
    try:
        needing = sections_needed(hosts, template_values(templates)) | with_templates
    except (ValueError, _Invalid):
        needing = set(invalid)
    return ["%s: the qbwrk.conf section name %r is not allowed (only letters, digits and _, and not a reserved "
            "name), and this host needs its own section (central settings or templates of its own). Set "
            "qube_worker_name for this host to the name its worker registers with, using only those "
            "characters, or place its keys local." % (invalid[section], section)
            for section in sorted(invalid) if section in needing]


def fill_secrets(values, secrets, host=""):
    """Copy of ``values`` with proxy_password placeholders replaced from ``secrets`` {account: hash}."""
    out = dict(values)
    password = out.get("proxy_password")
    if isinstance(password, str) and password.startswith(PASSWORD_PLACEHOLDER):
        account = password[len(PASSWORD_PLACEHOLDER):]
        if not (secrets or {}).get(account):
            raise SettingsError(["%s: no proxy password hash for account %r. Run the identity role first (it "
                                 "computes the hash with qbhash) or pass it in secrets." % (host, account)])
        out["proxy_password"] = secrets[account]
    return out
