# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One list of secret keys: ``confwrite.SECRET_KEYS``.

Every other place that needs the list takes that object; a literal copy anywhere in
``plugins/`` fails here, and so does a documented ``secret_keys`` default that drifts from it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import importlib
import os

import pytest
import yaml

from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite, readback, settings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PLUGINS = os.path.join(REPO_ROOT, "plugins")
THE_LIST = os.path.join("plugins", "module_utils", "confwrite.py")
MODULES_WITH_SECRET_KEYS = ("qube_conf", "qube_qbwrk")


def _python_files():
    for folder, _dirs, files in os.walk(PLUGINS):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, REPO_ROOT), path


def _secret_literals(tree):
    """Line numbers of list/tuple/set literals naming two or more of the secret keys."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            names = {elt.value for elt in node.elts if isinstance(elt, ast.Constant) and isinstance(elt.value, str)}
            if len(names & set(confwrite.SECRET_KEYS)) >= 2:
                found.append(node.lineno)
    return found


def test_the_one_list_names_the_documented_secret_keys():
    assert set(confwrite.SECRET_KEYS) == {"proxy_password", "database_password"}


def test_other_module_utils_use_the_one_list_itself():
    assert settings.SECRET_KEYS is confwrite.SECRET_KEYS
    assert readback.PRESENCE_ONLY_KEYS is confwrite.SECRET_KEYS


def test_no_copy_of_the_list_in_plugins():
    copies = []
    for rel, path in _python_files():
        with open(path) as handle:
            lines = _secret_literals(ast.parse(handle.read(), filename=rel))
        if rel != THE_LIST:
            copies += ["%s:%d" % (rel, line) for line in lines]
        else:
            assert len(lines) == 1, "confwrite.py should hold the list exactly once"
    assert not copies, "copies of confwrite.SECRET_KEYS: %s" % ", ".join(copies)


def test_the_scan_finds_a_copy():
    tree = ast.parse('KEYS = frozenset(["database_password", "proxy_password"])\n')
    assert _secret_literals(tree) == [1]


@pytest.mark.parametrize("name", MODULES_WITH_SECRET_KEYS)
def test_documented_secret_keys_default_is_the_one_list(name):
    module = importlib.import_module("ansible_collections.renderfarm.qube.plugins.modules." + name)
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert options["secret_keys"]["default"] == list(confwrite.SECRET_KEYS)


@pytest.mark.parametrize("name", MODULES_WITH_SECRET_KEYS)
def test_argument_spec_default_is_the_one_list(name):
    path = os.path.join(PLUGINS, "modules", name + ".py")
    with open(path) as handle:
        tree = ast.parse(handle.read(), filename=path)
    defaults = [kw.value for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "secret_keys"
                for kw in getattr(node.value, "keywords", []) if kw.arg == "default"]
    assert len(defaults) == 1
    assert ast.unparse(defaults[0]) == "list(confwrite.SECRET_KEYS)"


def test_no_other_documented_default_lists_secret_keys():
    drift = []
    for name in sorted(os.listdir(os.path.join(PLUGINS, "modules"))):
        if not name.endswith(".py") or name == "__init__.py":
            continue
        module = importlib.import_module("ansible_collections.renderfarm.qube.plugins.modules." + name[:-3])
        options = (yaml.safe_load(getattr(module, "DOCUMENTATION", "") or "{}") or {}).get("options") or {}
        for option, spec in options.items():
            default = spec.get("default")
            if isinstance(default, list) and set(default) & set(confwrite.SECRET_KEYS) \
                    and default != list(confwrite.SECRET_KEYS):
                drift.append("%s %s" % (name, option))
    assert not drift
