"""The JUnit target: one test case per session, failed by a failed command or a critical anomaly."""

from __future__ import annotations

import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import WORKLOAD_COMMAND, run_traced, start_traced, workload

from autoskillit_trace import detect
from autoskillit_trace.export.junit import junit_failure, write_junit


def test_junit_failure_reasons() -> None:
    ok = {"success": True, "anomalies_by_kind": {"rss_growth": 1}}
    assert junit_failure(ok) is None
    critical = {**ok, "anomalies_by_kind": {"oom_critical": 1}}
    assert junit_failure(critical) == "critical anomalies: oom_critical"
    failed = {"success": False, "subtype": "failed", "termination_reason": "exited: code 2"}
    assert junit_failure(failed) == "failed: exited: code 2"


def test_every_critical_kind_of_detect_fails_a_report_and_no_other(tmp_path: Path) -> None:
    """Whether a kind fails the case is its severity in detect.py, not a list kept here."""
    assert {k for k, s in detect.SEVERITY.items() if s == "critical"}  # there are some
    for kind, severity in detect.SEVERITY.items():
        report = tmp_path / f"{kind}.xml"
        summary = {"success": True, "subtype": "success", "anomalies_by_kind": {kind: 1}}
        write_junit(report, summary, "make", "body")
        (case,) = ET.parse(report).getroot().findall("testsuite/testcase")
        failure = case.find("failure")
        if severity == "critical":
            assert failure is not None and failure.get("message") == f"critical anomalies: {kind}"
        else:
            assert failure is None, kind


def test_a_critical_kind_added_to_detect_fails_the_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(detect.SEVERITY, "disk_full", "critical")
    summary = {"success": True, "anomalies_by_kind": {"disk_full": 2, "rss_growth": 1}}
    assert junit_failure(summary) == "critical anomalies: disk_full"


def test_junit_appends_one_case_per_session(tmp_path: Path, log_root: Path) -> None:
    report = tmp_path / "junit.xml"
    runs = [(workload("exit", 0), 0), (workload("exit", 2), 2), (workload("oom", 0.2, 0.5), 0)]
    for command, code in runs:
        traced = run_traced(log_root, command, extra=("--junit", report))
        assert traced.proc.returncode == code, traced.stderr
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == [f"autoskillit_trace.{WORKLOAD_COMMAND}"] * 3
    assert all(float(c.get("time") or -1) > 0 and c.get("name") for c in cases)
    failures = [c.find("failure") for c in cases]
    assert failures[0] is None and cases[0].find("system-out") is not None
    assert failures[1] is not None and "exited: code 2" in (failures[1].get("message") or "")
    assert failures[2] is not None and "oom_critical" in (failures[2].get("message") or "")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    assert (root.get("tests"), root.get("failures")) == ("3", "2")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_broken_junit_file_is_one_warning_and_left_alone(tmp_path: Path, log_root: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text("<not xml")
    traced = run_traced(log_root, workload("exit", 5), extra=("--junit", report))
    assert traced.proc.returncode == 5
    assert traced.stderr.count('"export failed"') == 1
    assert report.read_text() == "<not xml"


def test_the_report_is_readable_by_other_users(tmp_path: Path, log_root: Path) -> None:
    report = tmp_path / "junit.xml"
    proc = start_traced(log_root, workload("exit", 0), extra=("--junit", report), umask=0o022)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert stat.S_IMODE(report.stat().st_mode) == 0o644


def test_parallel_steps_lose_no_junit_case(tmp_path: Path, log_root: Path) -> None:
    report = tmp_path / "junit.xml"
    procs = [
        start_traced(log_root, workload("exit", code), extra=("--junit", report))
        for code in (0, 1, 0, 1, 0, 1)
    ]
    for proc in procs:
        proc.communicate(timeout=30)
    cases = ET.parse(report).getroot().findall("testsuite/testcase")
    assert len(cases) == 6
    assert sum(1 for c in cases if c.find("failure") is not None) == 3
