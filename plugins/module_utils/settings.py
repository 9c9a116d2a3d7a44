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

The code is in three modules: ``key_catalogue.py`` (the keys, their kinds, value conversion),
``host_keys.py`` (one host's decisions) and this one (the checks over the whole farm, the
secrets); every name of the first two is importable from here too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.module_utils.confwrite import SECRET_KEYS
from ansible_collections.renderfarm.qube.plugins.module_utils.host_keys import _host
from ansible_collections.renderfarm.qube.plugins.module_utils.key_catalogue import (
    HINTS, KEY_KINDS, PASSWORD_PLACEHOLDER, SettingsError, _convert, _Invalid, local_only_reason,
)
# Re-exported: other plugins import the catalogue and the per-host functions from settings.
from ansible_collections.renderfarm.qube.plugins.module_utils.host_keys import (  # noqa: F401 pylint: disable=unused-import
    desktop_paths, detect_os, host_settings, validate_host,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.key_catalogue import (  # noqa: F401 pylint: disable=unused-import
    BOOTSTRAP_KEYS, DEFAULT_DESKTOP_WORKER_DIR, DEFAULT_QBDIR, DEFAULT_WORKER_FLAGS, DESKTOP_PATH_KEYS, GROUP_VARIABLES,
    OS_NAMES, OTHER_VARIABLES, VARIABLES, WORKER_FLAGS,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import RESERVED_SECTIONS, SECTION_NAME_RE, sections_needed


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
