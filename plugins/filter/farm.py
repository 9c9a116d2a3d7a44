# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Farm-level filters: the supervisor's view of every worker, computed once on the controller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.renderfarm.qube.plugins.module_utils import qbconf, settings

_DESKTOP_WINDOWS_FLAG = "disable_windows_job_object"


def _plain(value):
    """Turn Ansible's lazy mappings into plain Python containers."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def farm_settings(hostvars, names):
    """One settings entry per worker, with ``mode`` added."""
    farm = []
    for name in names:
        host = hostvars[name]
        try:
            entry = settings.host_settings(name, host)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc))
        entry = dict(entry)
        entry["inventory_name"] = name
        entry["mode"] = host.get("qube_worker_mode", "service")
        farm.append(entry)
    return farm


def central_accounts(farm):
    """Distinct proxy accounts whose encrypted password goes into qbwrk.conf.

    Each item names the account, its domain and one host that carries the password variable;
    no password is copied into the result.
    """
    seen = {}
    for entry in farm:
        central = entry.get("central", {})
        if "proxy_password" not in central:
            continue
        account = central.get("proxy_account") or entry.get("local", {}).get("proxy_account") or "qubeproxy"
        domain = central.get("worker_host_domain") or ""
        seen.setdefault(account, {"account": account, "domain": domain, "host": entry["inventory_name"]})
    return [seen[k] for k in sorted(seen)]


def qbwrk_hosts(farm, secrets=None):
    """``qube_qbwrk`` ``hosts``: {section name: {os, templates, settings}} with passwords filled in."""
    out = {}
    for entry in farm:
        try:
            central = settings.fill_secrets(entry.get("central") or {}, secrets, entry.get("inventory_name"))
        except settings.SettingsError as exc:
            raise AnsibleFilterError("; ".join(exc.errors))
        out[entry.get("name") or entry["inventory_name"]] = {
            "os": entry.get("os"), "templates": list(entry.get("templates") or []), "settings": _plain(central)}
    return out


def farm_wide(values):
    """``qube_farm_wide_settings`` converted for ``qube_qbwrk`` (flags, properties, lists)."""
    problems = settings.validate_farm_wide(values or {})
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return _plain(settings.farm_wide_values(values or {}))


def qbwrk_known_hosts(farm):
    """``qube_qbwrk`` ``known_hosts``: {section name: os} of every worker."""
    return dict((entry.get("name") or entry["inventory_name"], entry.get("os")) for entry in farm)


def hashes_by_account(results):
    """Map account -> encrypted string from a looped ``qube_credential register=central`` result."""
    out = {}
    for res in results:
        # A skipped item, or one qbhash refused (the batch's check reports it), has no string.
        if res.get("skipped") or "proxy_password_hash" not in res:
            continue
        out[res["item"]["account"]] = res["proxy_password_hash"]
    return out


# Vendor defaults (CPR supervisor_job_flags.md, supervisor_flags.md): the lists the supervisor uses
# while the key is not set.
JOB_FLAGS_DEFAULT = ["auto_mount"]
SUPERVISOR_FLAGS_DEFAULT = ["host_recontact", "heartbeat_monitor", "running_monitor", "retry_busy"]


def _execution_mode(entry):
    return (entry.get("central", {}).get("proxy_execution_mode")
            or entry.get("local", {}).get("proxy_execution_mode") or "proxy")


def supervisor_list_items(farm, job_flags=True, enforce_password=True):
    """Item-by-item edits of the supervisor's own qb.conf lists that the farm needs (``qube_conf``
    ``list_items``); every flag the site set itself is kept.

    * ``supervisor_job_flags``: a Windows worker in Desktop User mode needs
      ``disable_windows_job_object`` on every job (KB "How to switch a worker from Service mode to
      Desktop User mode"); it is added to the site's list (vendor default ``auto_mount`` while unset).
    * ``supervisor_flags``: a farm whose workers all run in proxy mode drops ``enforce_password``
      (AUTH "Switching to Proxy Mode", step 4); with a user-mode worker it is left as it is.
    """
    items = []
    if job_flags and any(e.get("os") == "winnt" and e.get("mode") == "desktop" for e in farm):
        items.append({"key": "supervisor_job_flags", "present": [_DESKTOP_WINDOWS_FLAG], "absent": [],
                      "default": list(JOB_FLAGS_DEFAULT)})
    if enforce_password and farm and all(_execution_mode(e) == "proxy" for e in farm):
        items.append({"key": "supervisor_flags", "present": [], "absent": ["enforce_password"],
                      "default": list(SUPERVISOR_FLAGS_DEFAULT)})
    return items


def expected_config(hostvars, names):
    """Worker name -> every managed key and its value, local and central together.

    Keyed by the name the supervisor knows (``qube_worker_name``), as ``qube_worker_info``
    expects.
    """
    out = {}
    for entry in farm_settings(hostvars, names):
        merged = dict(entry.get("central", {}))
        merged.update(entry.get("local", {}))
        out[entry.get("name") or entry["inventory_name"]] = _plain(merged)
    return out


def conf_merge(text, set_keys, remove_keys=()):
    """Merge managed keys into an existing qb.conf text, keeping every other line."""
    conf = qbconf.QbConf(text or "")
    for key in remove_keys or ():
        conf.remove(key)
    for key, value in (set_keys or {}).items():
        conf.set(key, _plain(value))
    return conf.text()


class FilterModule(object):
    """renderfarm.qube farm filters."""

    def filters(self):
        return {
            "qube_farm_settings": farm_settings,
            "qube_central_accounts": central_accounts,
            "qube_hashes_by_account": hashes_by_account,
            "qube_qbwrk_hosts": qbwrk_hosts,
            "qube_qbwrk_known_hosts": qbwrk_known_hosts,
            "qube_farm_wide": farm_wide,
            "qube_supervisor_list_items": supervisor_list_items,
            "qube_conf_merge": conf_merge,
            "qube_expected_config": expected_config,
        }
