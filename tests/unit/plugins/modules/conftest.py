# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one harness for module tests: ``run_module(module, args, check_mode=False, diff=False)``.

It runs ``module.main()`` in-process with ``args`` (through ``ansible.module_utils.testing``)
and returns the result as the controller would read it: Ansible's own ``exit_json``/``fail_json``
run unpatched, so ``changed``/``failed``/``msg``, the no_log masking, ``invocation`` and the
``warnings`` (as their message strings) are the real ones.  A ``fail_json`` gives
``failed: True`` and ``msg``.  ``failed=True``/``False`` also asserts how the call ended.
``run_module.raw`` is the JSON text of the last call, for tests that scan the whole output;
``run_module.bind(module, **defaults)`` is the same for one module, with default options.

    def test_something(run_module, tmp_path):
        result = run_module(qube_conf, {"path": str(tmp_path / "qb.conf")}, check_mode=True)
        assert result["changed"]
"""

import json

import pytest

from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils import basic
from ansible.module_utils.common import json as common_json
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args


class ModuleRunner(object):
    """Callable behind the ``run_module`` fixture; keeps the raw JSON of the last call."""

    def __init__(self, monkeypatch, remote_tmp):
        self.monkeypatch = monkeypatch
        self.remote_tmp = remote_tmp
        self.raw = None
        self._recorded = []
        # AnsibleModule's own hook for the serialization of its result (exit_json and fail_json).
        monkeypatch.setattr(basic.AnsibleModule, "_record_module_result",
                            lambda _module, result: self._record(result))

    def _record(self, result):
        result = dict(result)
        if result.get("warnings"):
            result["warnings"] = list(module_warnings.get_warning_messages())
        if result.get("deprecations"):
            result["deprecations"] = list(module_warnings.get_deprecation_messages())
        encoder = common_json.get_module_encoder(basic._ANSIBLE_PROFILE, common_json.Direction.MODULE_TO_CONTROLLER)
        self._recorded.append(json.dumps(result, cls=encoder))

    def __call__(self, module, args, check_mode=False, diff=False, failed=None):
        # Warnings and deprecations are process-wide in AnsibleModule: each call starts with none.
        self.monkeypatch.setattr(module_warnings, "_global_warnings", {})
        self.monkeypatch.setattr(module_warnings, "_global_deprecations", {})
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff,
                    _ansible_remote_tmp=self.remote_tmp, _ansible_keep_remote_files=False)
        del self._recorded[:]
        with patch_module_args(args), self.monkeypatch.context() as patch:
            # As on a managed host: once a test has imported controller code, AnsibleModule.warn
            # would go to the controller's Display instead of the result.
            patch.setattr(module_utils_internal, "is_controller", False)
            with pytest.raises(SystemExit):
                module.main()
        assert len(self._recorded) == 1, "%s.main() ended without one exit_json/fail_json" % module.__name__
        self.raw = self._recorded[0]
        result = json.loads(self.raw)
        if failed is not None:
            assert bool(result.get("failed")) is failed, result
        return result

    def bind(self, module, **defaults):
        """``run(args, **options)``: this runner for ``module``, ``defaults`` for the options not given."""
        return lambda args, **options: self(module, args, **dict(defaults, **options))


@pytest.fixture
def run_module(monkeypatch, tmp_path_factory):
    """``run_module(module, args, check_mode=False, diff=False, failed=None)`` -> result dict."""
    return ModuleRunner(monkeypatch, str(tmp_path_factory.mktemp("remote_tmp")))
