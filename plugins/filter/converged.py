# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a worker's record of its last converged run covers (module_utils/converged.py).

:func:`converged_spec` (controller, once per worker in the host preflight) decides whether the
worker's shape is covered, digests the run's inputs and lists what the host look digests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible.release import __version__ as ANSIBLE_VERSION
from ansible_collections.renderfarm.qube.plugins.filter.identity import identity_plan
from ansible_collections.renderfarm.qube.plugins.module_utils import modes, modes_packages
from ansible_collections.renderfarm.qube.plugins.module_utils.preflight import as_bool

# The role defaults the look needs (guarded against the roles' defaults/main.yml by a unit test).
DEFAULTS = {
    "qube_worker_mode": "service",
    "qube_proxy_execution_mode": "proxy",
    "qube_proxy_account": "qubeproxy",
    "qube_validate_identity": True,
    "qube_validate_cadence": "on_change",
    "qube_validate_max_age_hours": 20,
    "qube_identity_state_dir": "/var/lib/renderfarm-qube",
    "qube_worker_unit": "worker",
    "qube_worker_packages": ["qube-core", "qube-worker"],
    "qube_worker_package_files": [],
}
QB_CONF_PATH = "/etc/qb.conf"  # worker_config's Linux default (qube_qb_conf_path overrides)
# worker_mode's Linux paths (roles/worker_mode/vars/main.yml: fixed, not under qube_identity_state_dir)
MODE_RECORD = "/var/lib/renderfarm-qube/worker_mode.json"
PACKAGE_CACHE = "/var/cache/renderfarm-qube/packages"
VENDOR_PROXY_ACCOUNT = "qubeproxy"  # the identity role checks it for the vendor's published default password
# Run controls, not what a worker should be: a run with other ones leaves the same workers.
RUN_CONTROLS = ("qube_serial", "qube_max_fail_percentage", "qube_rollback_failed_batch", "qube_skip_converged",
                "qube_readback_timeout", "qube_readback_delay", "qube_readback_poll", "qube_report_dir", "qube_report_slices",
                "qube_report_html_template", "qube_report_combined_dir")
SECRET_ITERATIONS = 10000
_COLLECTION_DIGEST = {}


def collection_digest(_value=None, root=None):
    """One digest of the collection's roles, plugins, templates and playbooks (cached per process)."""
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if root in _COLLECTION_DIGEST:
        return _COLLECTION_DIGEST[root]
    digest = hashlib.sha256()
    for top in ("roles", "plugins", "templates", "playbooks"):
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
    _COLLECTION_DIGEST[root] = digest.hexdigest()
    return _COLLECTION_DIGEST[root]


def _secret(value, name):
    """A secret as a slow digest salted per worker: the record on the worker never holds it."""
    text = json.dumps(value, sort_keys=True, default=str).encode("utf-8")
    salt = ("renderfarm.qube converged %s" % name).encode("utf-8")
    return "pbkdf2:" + hashlib.pbkdf2_hmac("sha256", text, salt, SECRET_ITERATIONS).hex()


def _plain(value, name, key=""):
    if "password" in key.lower() or "secret" in key.lower():
        return _secret(_plain(value, name), name)
    if hasattr(value, "items"):
        return dict((str(k), _plain(v, name, str(k))) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    return value


def inputs_digest(hostvars, name, collection=""):
    """Digest of what the roles decide this worker's state from: its ``qube_*`` variables (run
    controls left out, secrets as salted slow digests), its groups, its OS, the collection's files
    and the ansible-core version."""
    variables = {}
    for key in sorted(k for k in hostvars.keys() if str(k).startswith("qube_") and k not in RUN_CONTROLS):
        try:
            variables[key] = _plain(hostvars[key], name, key)
        except Exception as error:  # pylint: disable=broad-except
            # A variable that does not template now does not later either: its error is its value.
            variables[key] = "<%s>" % type(error).__name__
    facts = hostvars.get("ansible_facts") or {}
    # The package files on the controller: a new build under the same name is a new input.
    packages = {}
    for path in _list(hostvars.get("qube_worker_package_files")):
        try:
            info = os.stat(str(path))
            packages[str(path)] = [info.st_size, int(info.st_mtime)]
        except OSError:
            packages[str(path)] = None
    parts = {"variables": variables, "package_files": packages, "groups": sorted(hostvars.get("group_names") or []),
             "system": facts.get("system") or hostvars.get("ansible_system") or "",
             "collection": collection or collection_digest(), "ansible": ANSIBLE_VERSION}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _list(value):
    try:
        return list(value or [])
    except TypeError:
        return []


def _get(hostvars, key):
    value = hostvars.get(key)
    return DEFAULTS[key] if value is None or value == "" and key == "qube_worker_unit" else value


def _why_not(hostvars, name, system):
    if not _truthy(hostvars.get("qube_skip_converged", True)):
        return "qube_skip_converged is false"
    if system != "Linux":
        return "only Linux workers are left out when converged (this one is %s)" % (system or "unknown")
    if _get(hostvars, "qube_worker_mode") != "service":
        return "Desktop User mode workers take every role on every run"
    if _get(hostvars, "qube_proxy_execution_mode") != "proxy":
        return "user-mode workers take every role on every run (their submitters can change in the directory)"
    plan = identity_plan(hostvars, name)
    if plan["ad_account"]:
        return "an AD proxy account can change in the directory: the identity role looks at it on every run"
    if _truthy(_get(hostvars, "qube_validate_identity")) and _get(hostvars, "qube_validate_cadence") != "on_change":
        return "qube_validate_cadence is always: the validation job runs on every run"
    return ""


def _truthy(value, default=True):
    """The boolean Ansible makes of ``value`` (preflight.as_bool); ``default`` when it is none."""
    verdict = as_bool(value)
    return default if verdict is None else verdict


def converged_spec(hostvars, name, collection=""):
    """What the host look compares for worker ``name`` (module_utils/converged.py: look)."""
    facts = hostvars.get("ansible_facts") or {}
    system = facts.get("system") or hostvars.get("ansible_system") or ""
    why = _why_not(hostvars, name, system)
    state_dir = _get(hostvars, "qube_identity_state_dir")
    if why:
        return {"eligible": False, "why": why, "state_dir": state_dir}
    unit = _get(hostvars, "qube_worker_unit")
    files = list(_get(hostvars, "qube_worker_package_files") or [])
    packages = [modes_packages.package_name(path) for path in files] if files else list(
        _get(hostvars, "qube_worker_packages"))
    account = _get(hostvars, "qube_proxy_account")
    validate = _truthy(_get(hostvars, "qube_validate_identity"))
    return {
        "eligible": True, "why": "", "state_dir": state_dir,
        "inputs": inputs_digest(hostvars, name, collection),
        "files": [hostvars.get("qube_qb_conf_path") or QB_CONF_PATH, MODE_RECORD,
                  os.path.join(modes.USER_UNIT_DIR, modes.USER_UNIT),
                  os.path.join(modes.USER_UNIT_DIR, "default.target.wants", modes.USER_UNIT)],
        "trees": [state_dir, "/etc/systemd/system/%s.service.d" % unit] + ([PACKAGE_CACHE] if files else []),
        "accounts": sorted(set([account, VENDOR_PROXY_ACCOUNT])),
        "units": [unit],
        "packages": packages,
        "pending": [os.path.join(state_dir, "qb.conf.restart-pending")],
        "proof": {"required": validate, "path": os.path.join(state_dir, "identity_proof.json"),
                  "max_age_hours": int(_get(hostvars, "qube_validate_max_age_hours") or 0)},
    }


def converged_hosts(hostvars, names):
    """The workers of ``names`` whose host look found them converged in this run."""
    found = []
    for name in names:
        look = (hostvars[name].get("__qube_preflight_host") or {}).get("converged") or {}
        if look.get("converged") is True:
            found.append(name)
    return found


class FilterModule(object):
    """renderfarm.qube converged-run filters."""

    def filters(self):
        return {"qube_converged_spec": converged_spec, "qube_collection_digest": collection_digest,
                "qube_converged_hosts": converged_hosts}
