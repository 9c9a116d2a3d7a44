# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_preflight``: validate the whole farm's inventory.

Runs on the controller only (use it in a play on localhost): for every name in ``hosts`` it reads
``hostvars[name]`` and checks it with ``module_utils/preflight.py: validate_farm`` (Qube! settings,
run mode, job identity, types, unknown ``qube_*`` names).  It fails with every problem listed at
once (``msg`` and an ``errors`` list), or returns ok with a summary.  It never connects to any
host.  The known ``qube_*`` names include every role's ``defaults/main.yml`` and
``meta/argument_specs.yml`` of this collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import yaml
from ansible.errors import AnsibleError, AnsibleUndefinedVariable
from ansible.plugins.action import ActionBase
from ansible_collections.renderfarm.qube.plugins.filter.converged import collection_digest
from ansible_collections.renderfarm.qube.plugins.module_utils.preflight import known_variables, validate_farm
from ansible_collections.renderfarm.qube.plugins.module_utils.settings import (
    OS_NAMES, SettingsError, host_settings,
)

try:
    from ansible.parsing.vault import VaultHelper
except ImportError:  # ansible-core before 2.19: vaulted values are AnsibleVaultEncryptedUnicode
    VaultHelper = None

# Variables the checks read besides the qube_* ones (OS detection, groups, names).
CONTEXT_VARIABLES = ("ansible_connection", "ansible_system", "ansible_os_family", "ansible_facts",
                     "group_names", "inventory_hostname")
ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "roles")


def is_vaulted(value):
    """Whether ``value`` came from an inline ``!vault`` string (what the vault_encrypted test says)."""
    if VaultHelper is not None:
        return VaultHelper.get_ciphertext(value, with_tags=False) is not None
    return type(value).__name__ == "AnsibleVaultEncryptedUnicode"


def resolve_hostvars(name, hostvars, errors):
    """A plain dict of the variables the checks read, each templated on its own.

    A variable that cannot be evaluated (say, it references a vault variable that is not loaded)
    becomes a problem naming host and variable; the other variables are still checked. Only an
    undefined variable's message is shown; for other failures the kind of error is (a message
    could quote a value).
    """
    resolved = {}
    for var in [str(v) for v in hostvars.keys() if str(v).startswith("qube_")] + list(CONTEXT_VARIABLES):
        if var not in hostvars:
            continue
        try:
            resolved[var] = hostvars[var]
        except AnsibleUndefinedVariable as exc:
            errors.append("%s: %s cannot be evaluated (%s). Define the variable it uses (is the vault file "
                          "loaded?) or fix the expression." % (name, var, exc.message))
        except AnsibleError as exc:
            errors.append("%s: %s cannot be evaluated (%s). Fix the expression." % (name, var, type(exc).__name__))
    return resolved


# The roles that run on the workers: their argument specs are the contract the preflight enforces.
WORKER_ROLES = ("worker_config", "worker_mode", "identity", "worker_restart")


def role_specs(roles_dir=ROLES_DIR, roles=WORKER_ROLES):
    """{variable: option spec} of the workers' roles (meta/argument_specs.yml, every entry point:
    worker_restart's options are those of its handler's entry point, restart)."""
    specs = {}
    for role in roles:
        path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        if not os.path.exists(path):
            continue
        with open(path) as handle:
            entry_points = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        for entry_point in entry_points.values():
            for name, option in ((entry_point or {}).get("options") or {}).items():
                specs.setdefault(name, option)
    return specs


def role_defaults(roles_dir=ROLES_DIR, roles=WORKER_ROLES):
    """{variable: default} from the workers' roles' defaults/main.yml (what a role uses when unset)."""
    defaults = {}
    for role in roles:
        path = os.path.join(roles_dir, role, "defaults", "main.yml")
        if os.path.exists(path):
            with open(path) as handle:
                for name, value in (yaml.safe_load(handle) or {}).items():
                    defaults.setdefault(name, value)
    return defaults


def role_variables(roles_dir=ROLES_DIR):
    """``qube_*`` names in every role's defaults/main.yml and meta/argument_specs.yml options."""
    names = set()
    for path in glob.glob(os.path.join(roles_dir, "*", "defaults", "main.yml")):
        with open(path) as handle:
            names.update((yaml.safe_load(handle) or {}).keys())
    for path in glob.glob(os.path.join(roles_dir, "*", "meta", "argument_specs.yml")):
        with open(path) as handle:
            specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        for entry in specs.values():
            names.update((entry or {}).get("options") or {})
    return set(name for name in names if str(name).startswith("qube_"))


class ActionModule(ActionBase):
    """Controller-side farm validation."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("hosts", "supervisors"))
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        hosts = self._task.args.get("hosts")
        if isinstance(hosts, str):
            hosts = [hosts]
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) for host in hosts):
            return dict(result, failed=True, msg="qube_preflight: hosts must be a list of inventory host names")
        all_hostvars = (task_vars or {}).get("hostvars", {})
        farm, errors = {}, []
        for host in hosts:
            if host not in all_hostvars:
                errors.append("%s: not in the inventory. Check the hosts list given to qube_preflight." % host)
                continue
            farm[host] = resolve_hostvars(host, all_hostvars[host], errors)
        supervisors = self._task.args.get("supervisors")
        if supervisors is not None and not supervisors and hosts:
            errors.append("no host in the supervisors group (qube_supervisors_group): the workers' restarts are "
                          "drained and their configuration read back on the supervisor. Add the supervisor to the group.")
        try:
            errors.extend(validate_farm(farm, known_variables(role_variables()), is_vaulted,
                                        defaults=role_defaults(), specs=role_specs()))
        except AnsibleError as exc:
            errors.append("cannot evaluate the inventory variables: %s" % exc.message)
        if errors:
            return dict(result, failed=True, changed=False, errors=errors,
                        msg="qube_preflight: %d problem(s) found, nothing was changed:\n- %s"
                            % (len(errors), "\n- ".join(errors)))
        counts = dict((name, 0) for name in OS_NAMES)
        central_keys, local_keys, templates = set(), set(), set()
        for host, hostvars in farm.items():
            try:
                settings = host_settings(host, hostvars)
            except SettingsError as exc:  # validate_farm already reported it; kept for safety
                return dict(result, failed=True, errors=exc.errors, msg=str(exc))
            counts[settings["os"]] += 1
            central_keys.update(settings["central"])
            local_keys.update(settings["local"])
            templates.update(settings["templates"])
        summary = dict(hosts=len(farm), os=counts, central_keys=sorted(central_keys),
                       local_keys=sorted(local_keys), templates=sorted(templates))
        # The collection's files as one digest, once per run, for the workers' converged records
        # (filter/converged.py; a filter would compute it again in every fork).
        return dict(result, changed=False, summary=summary, collection_digest=collection_digest(),
                    msg="qube_preflight: %d host(s) checked, no problems (%s)"
                        % (len(farm), ", ".join("%d %s" % (counts[n], n) for n in OS_NAMES if counts[n])))
