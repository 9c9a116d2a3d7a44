# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module side of the POSIX validation job: the Qube! job check, the operators' record, the cadence."""

import stat

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import validation_job


def _fake(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\nprintf '%%s\\n' \"$0 $*\" >> %s/argv.log\n%s\n" % (tmp_path, body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_validate_via_qube_submits_and_reads_the_job_output(tmp_path):
    qbsub = _fake(tmp_path, "qbsub", "echo 'successfully submitted job: 4242'")
    qbout = _fake(tmp_path, "qbout", "echo render")
    result = {"ok": True, "checks": []}
    validation_job.validate_via_qube(result, qbsub, qbout, "w03", "render", submit_as="render")
    assert result["checks"] == [{"name": "qube_job", "ok": True, "detail": "job 4242 ran as render (expected render)"}]
    log = (tmp_path / "argv.log").read_text().splitlines()
    assert log == ["%s --hosts w03 --user render --waiton /usr/bin/id -un" % qbsub, "%s 4242" % qbout]


def test_validate_via_qube_reports_the_wrong_user(tmp_path):
    qbsub = _fake(tmp_path, "qbsub", "echo 'successfully submitted job: 7'")
    qbout = _fake(tmp_path, "qbout", "echo qubeproxy")
    result = {"ok": True, "checks": []}
    validation_job.validate_via_qube(result, qbsub, qbout, "w03", "MYCORP\\render")
    assert result["ok"] is False
    assert result["error"]["code"] == "qube_job_failed"
    assert "job 7 ran as qubeproxy (expected MYCORP\\render)" in result["error"]["message"]
    assert "--user" not in (tmp_path / "argv.log").read_text()


def test_validate_via_qube_reports_a_refused_submission(tmp_path):
    qbsub = _fake(tmp_path, "qbsub", "echo 'ERROR: no such host' >&2; exit 1")
    result = {"ok": True, "checks": []}
    validation_job.validate_via_qube(result, qbsub, "/bin/false", "w09", "render")
    assert result["checks"][0]["ok"] is False
    assert result["checks"][0]["detail"] == "qbsub rc=1: ERROR: no such host"


def test_check_mode_record_comparison_ignores_the_skipped_qube_job():
    def text(ok, **checks):
        return validation_job.validation_record_text("qubeproxy", None, {
            "ok": ok, "checks": [{"name": k, "ok": v} for k, v in checks.items()]})

    real = text(True, whoami=True, home=True, qube_job=True)
    assert validation_job.record_predicts_no_change(real, text(True, whoami=True, home=True))
    assert not validation_job.record_predicts_no_change(real, text(False, whoami=True, home=False))
    assert not validation_job.record_predicts_no_change(None, text(True, whoami=True))
    assert not validation_job.record_predicts_no_change(text(True, whoami=True), text(False, whoami=True, home=False))
    other = validation_job.validation_record_text("renderproxy", "MYCORP", {"ok": True, "checks": [{"name": "whoami", "ok": True}]})
    assert not validation_job.record_predicts_no_change(real, other)


# --- validation cadence ---

NOW = 1796550000  # 2026-12-06T...
PROOF = {"identity": "MYCORP\\render", "basis": "b1", "validated_at": validation_job.iso_utc(NOW - 3600)}


def test_iso_utc_round_trip_and_bad_times():
    assert validation_job.iso_utc(0) == "1970-01-01T00:00:00Z"
    assert validation_job.parse_iso_utc(validation_job.iso_utc(NOW)) == NOW
    assert validation_job.parse_iso_utc("yesterday") is None and validation_job.parse_iso_utc(None) is None


@pytest.mark.parametrize("record, kwargs, due, reason", [
    (PROOF, {"cadence": "always"}, True, "cadence always"),
    ({}, {}, True, "no record of a passed validation on this host"),
    (dict(PROOF, identity="MYCORP\\old"), {}, True, "the job identity changed (was MYCORP\\old)"),
    (PROOF, {"registration_changed": True}, True, "the credential was registered in this run"),
    (PROOF, {"worker_changed": True}, True, "the worker was restarted in this run"),
    (PROOF, {"basis": "b2"}, True, "credential, worker configuration, mode or validation settings changed since"),
    (dict(PROOF, basis=None), {}, True, "credential, worker configuration, mode or validation settings changed"),
    (PROOF, {"max_age_hours": 1}, True, "older than the maximum age of 1 h"),
    (dict(PROOF, validated_at=validation_job.iso_utc(NOW + 60)), {}, True, "in the future"),
    (PROOF, {}, False, "not due (on_change): proven %s, 1 h ago; nothing changed since (due again after 24 h)"
     % PROOF["validated_at"]),
    (PROOF, {"max_age_hours": 0}, False, "nothing changed since"),
])
def test_validation_due(record, kwargs, due, reason):
    args = dict(cadence="on_change", basis="b1", max_age_hours=24)
    args.update(kwargs)
    got_due, got_reason = validation_job.validation_due(
        args.pop("cadence"), record, "MYCORP\\render", args.pop("basis"), NOW, args.pop("max_age_hours"), **args)
    assert got_due is due and reason in got_reason


def test_proof_record_holds_no_secret_and_loads_back():
    text = validation_job.proof_record_text("render", "f" * 64, NOW)
    record = validation_job.load_proof(text)
    assert sorted(record) == ["basis", "identity", "validated_at"]
    assert record["validated_at"] == validation_job.iso_utc(NOW)
    assert validation_job.load_proof("{not json") == {} and validation_job.load_proof('{"validated_at": "x"}') == {}
    assert validation_job.proof_basis({"a": 1, "b": [2]}) == validation_job.proof_basis({"b": [2], "a": 1})
