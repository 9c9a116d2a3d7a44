# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's Qube! keys from its inventory variables: its OS, group settings, local/central
placement, the values, Desktop User paths and the template path check.

What goes where and why is told in ``settings.py`` (the entry point, which re-exports these names).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.renderfarm.qube.plugins.module_utils.confwrite import SECRET_KEYS
from ansible_collections.renderfarm.qube.plugins.module_utils.key_catalogue import (
    BOOTSTRAP_KEYS, DEFAULT_DESKTOP_WORKER_DIR, DEFAULT_QBDIR, DEFAULT_WORKER_FLAGS, DESKTOP_PATH_KEYS, GROUP_VARIABLES,
    HINTS, KEY_KINDS, OS_NAMES, PASSWORD_PLACEHOLDER, VARIABLES, SettingsError, _convert, _Invalid, local_only_reason,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import RESERVED_SECTIONS, SECTION_NAME_RE


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
