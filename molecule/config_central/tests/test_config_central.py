"""qbwrk.conf on the supervisor and qb.conf on the workers equal what inventory says."""
import pathlib
import re

import pytest

from conftest import SUPERVISOR
from molecule_lab import lab_host

QBWRK = "/etc/qbwrk.conf"
SBIN = "/usr/local/pfx/qube/sbin"
PREPARED_QB_CONF = pathlib.Path(__file__).parent.parent / "files" / "render03_qb.conf"
STUDIO_QBWRK = pathlib.Path(__file__).parent.parent / "files" / "studio_qbwrk.conf"

# What molecule.yml's inventory says each worker's effective configuration is.
EXPECTED = {
    "render01": {"worker_cpus": "4", "worker_groups": "gpu,render"},
    "render02": {"worker_cpus": "4", "worker_groups": "gpu,render", "worker_cluster": "/studio/lighting"},
    "render03": {"worker_cpus": "8", "worker_groups": "gpu,render", "worker_description": "big node"},
    "render-04": {"worker_cpus": "4"},
}
TEMPLATE_PATH = "/usr/local/pfx/qube/types:/mnt/jobtypes"
for _expected in EXPECTED.values():
    _expected["worker_template_path"] = TEMPLATE_PATH


def sections(text):
    """Section name -> (inherited templates, its `key = value` lines); comments dropped.

    A header is `[name]` or `[name] : template ...` (qbwrk.conf inheritance).
    """
    out, current = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.fullmatch(r"\[(.+?)\](?:\s*:\s*(.+))?", stripped)
        if match:
            current = match.group(1)
            out[current] = ((match.group(2) or "").split(), [])
        elif current is not None:
            out[current][1].append(stripped)
    return out


def effective_config(supervisor, name):
    """`qbadmin worker --configuration NAME` on the supervisor, as key -> value."""
    text = supervisor.check_output(f"{SBIN}/qbadmin worker --configuration {name}")
    config = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip()] = value.strip().strip('"')
    return config


def test_qbwrk_conf_exists_with_mode_0600(supervisor):
    conf = supervisor.file(QBWRK)
    assert conf.exists and conf.is_file
    assert conf.mode == 0o600
    assert conf.user == "root"


def test_qbwrk_conf_is_accepted_by_qbconfigfile(supervisor):
    result = supervisor.run(f"{SBIN}/qbconfigfile {QBWRK}")
    assert result.rc == 0, result.stderr


def test_qbwrk_conf_has_template_range_and_exception(supervisor):
    text = supervisor.file(QBWRK).content_string
    found = sections(text)
    assert "gpu" in found, text
    assert "worker_groups = gpu,render" in [line.replace('"', "") for line in found["gpu"][1]], text
    assert "render[01-02]" in found, text
    assert found["render[01-02]"][0] == ["gpu"], text
    assert "worker_cpus = 4" in found["render[01-02]"][1], text
    assert not any(name in ("render01", "render02") for name in found), "render01/02 must be a range"
    assert found["render03"][0] == ["gpu"], text
    render03 = " ".join(found["render03"][1])
    assert "worker_cpus = 8" in render03
    assert "big node" in render03


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_effective_config_equals_inventory(supervisor, name):
    config = effective_config(supervisor, name)
    for key, value in EXPECTED[name].items():
        assert config.get(key) == value, f"{name}: {key} = {config.get(key)!r}, expected {value!r}"


def test_local_qb_conf_names_the_supervisor(worker):
    name, host = worker
    lines = [line.strip() for line in host.file("/etc/qb.conf").content_string.splitlines()]
    assert f"qb_supervisor = {SUPERVISOR}" in lines, f"{name}: {lines}"


def test_central_keys_are_not_in_local_qb_conf(worker):
    name, host = worker
    text = host.file("/etc/qb.conf").content_string
    if name == "render-04":  # qube_config_placement: local
        assert re.search(r"^worker_cpus = 4$", text, re.M), text
        return
    for key in ("worker_cpus", "worker_groups", "worker_description"):
        assert not re.search(rf"^\s*{key}\s*=", text, re.M), f"{name}: {key} must be central only"


def test_render03_keeps_every_unmanaged_line_byte_for_byte():
    current = lab_host("render03").file("/etc/qb.conf").content_string.splitlines(keepends=True)
    for line in PREPARED_QB_CONF.read_text().splitlines(keepends=True):
        assert line in current, f"lost or altered line: {line!r}"
    prepared = PREPARED_QB_CONF.read_text().splitlines(keepends=True)
    kept = [line for line in current if line in prepared]
    assert kept == prepared, "unmanaged lines changed order"


def test_render03_has_a_backup_of_the_prepared_qb_conf():
    host = lab_host("render03")
    backups = host.check_output("ls -1 /etc/ | grep -E '^qb\\.conf\\..+~$' || true").split()
    assert backups, "no backup of /etc/qb.conf"
    prepared = PREPARED_QB_CONF.read_text()
    assert any(host.file(f"/etc/{b}").content_string == prepared for b in backups)


def test_local_placed_key_is_local_not_central(supervisor):
    local = lab_host("render02").file("/etc/qb.conf").content_string
    assert re.search(r"^worker_cluster = /studio/lighting$", local, re.M), local
    assert "worker_cluster" not in supervisor.file(QBWRK).content_string


def test_qbwrk_conf_carries_no_local_placed_or_bootstrap_key(supervisor):
    text = supervisor.file(QBWRK).content_string
    assert "qb_supervisor" not in text


def test_worker_service_runs_with_the_new_qb_conf(worker):
    name, host = worker
    service = host.service("worker")
    assert service.is_running and service.is_enabled, name
    conf = host.file("/etc/qb.conf")
    assert conf.mode == 0o644 and conf.user == "root", name


def test_local_only_keys_are_in_qb_conf_and_not_in_qbwrk_conf(supervisor, worker):
    """client_* keys (Client+Configuration.md) and worker_template_path (CPR, KB) stay local."""
    name, host = worker
    local = host.file("/etc/qb.conf").content_string
    assert re.search(r"^client_logpath = /var/spool/qube/clientlogs$", local, re.M), local
    assert re.search(r"^worker_template_path = %s$" % re.escape(TEMPLATE_PATH), local, re.M), local
    central = supervisor.file(QBWRK).content_string
    assert "client_logpath" not in central and "worker_template_path" not in central, central


def test_a_host_name_that_cannot_be_a_section_needs_none_when_its_keys_are_local(supervisor):
    """CWC qbwrk_conf+File+Format.md limits section names only: render-04 has no section, and works."""
    central = supervisor.file(QBWRK).content_string
    assert "render-04" not in central and "render-" not in central, central
    assert effective_config(supervisor, "render-04")["worker_cpus"] == "4"


def test_supervisor_keeps_the_site_flags_and_drops_enforce_password(supervisor):
    """CPR supervisor_job_flags.md (site flags kept); AUTH step 4 (no enforce_password in proxy mode)."""
    text = supervisor.file("/etc/qb.conf").content_string
    assert 'supervisor_job_flags = "auto_mount,export_environment"' in text, text
    assert re.search(r'^supervisor_flags = "?host_recontact,retry_busy"?$', text, re.M), text
    assert "enforce_password" not in text


def test_the_studios_qbwrk_conf_is_kept_outside_the_managed_sections(supervisor):
    """Foreign sections, QubeUI/hand-set keys and comments survive, in their order (issue #14)."""
    text = supervisor.file(QBWRK).content_string
    remaining = text.splitlines(True)
    for line in STUDIO_QBWRK.read_text().splitlines(True):
        if line.startswith("templates = "):  # [global_config] templates is shared: ours are added
            assert re.search(r'^templates = "?nuke,gpu"?$', text, re.M), text
            continue
        assert line in remaining, "lost or altered: %r\n%s" % (line, text)
        remaining = remaining[remaining.index(line) + 1:]
    assert "# renderfarm.qube manages [gpu]: worker_groups" in text
    assert "# renderfarm.qube manages [render[01-02]]: worker_cpus" in text
    assert "[default]" not in text.split("[ws01]")[1], "nothing hoisted into [default]"


def test_a_worker_ansible_does_not_manage_sees_no_change(supervisor):
    """ws01's effective configuration (as qbconfigfile expands it) is what the studio wrote."""
    out = supervisor.check_output(f"{SBIN}/qbconfigfile {QBWRK}")
    block = out.split("[ws01]", 1)[1].split("[", 1)[0]
    found = dict(line.split(" = ", 1) for line in block.strip().splitlines())
    assert found == {"worker_cpus": "2", "worker_job_types": "nuke", "worker_logmode": "remote"}, out
