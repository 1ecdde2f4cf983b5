"""Exports of a finished session: Pushgateway, textfile, JUnit, step summary.

The Prometheus tests start the real prometheus, prometheus-pushgateway and
prometheus-node-exporter (Debian packages) on loopback ports and ask
Prometheus' HTTP API for what real sessions pushed or left for scraping.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    clean_env,
    index_records,
    modules_run_imports,
    read_json,
    run_traced,
    start_traced,
    tracer,
    wait_for,
    workload,
)
from promstack import Stack, missing, running_stack

from autoskillit_trace.export import grouping_key, junit_failure, push_url, textfile_name

README = Path(__file__).resolve().parents[1] / "README.md"
FIXTURES = Path(__file__).with_name("fixtures")
PYTHON = os.path.basename(sys.executable)
needs_prometheus = pytest.mark.skipif(
    bool(missing()),
    reason=f"not installed: {', '.join(missing())} "
    "(apt-get install prometheus prometheus-pushgateway prometheus-node-exporter)",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("prometheus")) as running:
        yield running


def value(result: list[dict[str, object]]) -> float:
    assert len(result) == 1, result
    sample = result[0]["value"]
    assert isinstance(sample, list)
    return float(sample[1])


# -- pure parts -------------------------------------------------------------------------


def test_grouping_key_and_url() -> None:
    labels = {"command": "make", "host": "ci-1", "slot": "0", "runner": "a/b"}
    key = grouping_key(labels)
    assert list(key) == ["job", "instance", "command", "host", "slot", "runner"]
    assert key["job"] == "autoskillit_trace" and key["instance"] == "ci-1"
    assert grouping_key({**labels, "job": "build"})["job"] == "build"
    url = push_url("http://gw:9091/", key)
    assert url.startswith("http://gw:9091/metrics/job@base64/")
    assert "a/b" not in url  # values are base64url: a '/' cannot break the path


def test_textfile_name_is_bounded_and_safe() -> None:
    name = textfile_name({"command": "my tool", "host": "h", "slot": "1", "team": "../x"})
    assert name == "autoskillit_trace_my_tool_slot-1_team-.._x.prom"
    assert "/" not in name


def test_junit_failure_reasons() -> None:
    ok = {"success": True, "anomalies_by_kind": {"rss_growth": 1}}
    assert junit_failure(ok) is None
    critical = {**ok, "anomalies_by_kind": {"oom_critical": 1}}
    assert junit_failure(critical) == "critical anomalies: oom_critical"
    failed = {"success": False, "subtype": "failed", "termination_reason": "exited: code 2"}
    assert junit_failure(failed) == "failed: exited: code 2"


# -- files: textfile, JUnit, step summary, with real sessions ----------------------------


def test_textfile_is_written_whole_and_overwritten(tmp_path: Path, log_root: Path) -> None:
    folder = tmp_path / "textfiles"
    folder.mkdir()
    for code in (3, 0):
        traced = run_traced(
            log_root,
            workload("exit", code),
            extra=("--textfile-dir", folder, "--label", "team=infra"),
        )
        assert traced.proc.returncode == code
    files = os.listdir(folder)
    assert files == [f"autoskillit_trace_{PYTHON}_slot-0_team-infra.prom"]  # no temporaries
    text = (folder / files[0]).read_text()
    assert re.search(r"^autoskillit_trace_session_exit_code\{.*team=\"infra\"\} 0$", text, re.M)


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
    assert [c.get("classname") for c in cases] == [f"autoskillit_trace.{PYTHON}"] * 3
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


def test_step_summary_and_show_markdown_agree(tmp_path: Path, log_root: Path) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text("# earlier step\n")
    env = clean_env(tmp_path, GITHUB_STEP_SUMMARY=str(step))
    traced = run_traced(log_root, workload("oom", 0.2, 0.6, 1), env=env)
    assert traced.proc.returncode == 1
    written = step.read_text()
    assert written.startswith("# earlier step\n### ❌ `")
    assert "| Outcome | failed (exit 1): exited: code 1 |" in written
    assert re.search(r"\| \+[0-9.]+s \| critical \| oom_critical \| \d+ \|", written)
    shown = subprocess.run(
        tracer("show", traced.session.folder.name, "--markdown", "--log-dir", log_root),
        capture_output=True,
        text=True,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    assert written == "# earlier step\n" + shown.stdout + "\n"


def test_step_summary_of_an_agent_session(tmp_path: Path, log_root: Path) -> None:
    step = tmp_path / "step_summary.md"
    env = clean_env(tmp_path, GITHUB_STEP_SUMMARY=str(step))
    traced = run_traced(
        log_root,
        workload("replay", FIXTURES / "claude_tool_error.jsonl", "0.01"),
        extra=("--agent-events",),
        env=env,
    )
    assert traced.proc.returncode == 0, traced.stderr
    text = step.read_text()
    assert "| Agent turns |" in text and "| Tool calls |" in text and "Tools: " in text


def test_bad_label_is_one_line_and_exit_2(tmp_path: Path, log_root: Path) -> None:
    for label, problem in (("__x=1", "reserved by Prometheus"), ("a-b=1", "[a-zA-Z_]")):
        traced = run_traced(log_root, workload("exit", 0), extra=("--label", label))
        assert traced.proc.returncode == 2
        assert problem in traced.stderr and len(traced.stderr.strip().splitlines()) == 1
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__LABELS="ok=1,9bad=2")
    traced = run_traced(log_root, workload("exit", 0), env=env)
    assert traced.proc.returncode == 2
    assert "linux_tracing.labels" in traced.stderr and "'9bad'" in traced.stderr


def test_run_imports_no_export_code_unless_configured(log_root: Path, env: dict[str, str]) -> None:
    exporting = {
        "autoskillit_trace.export", "autoskillit_trace.metrics", "urllib.request",
        "xml.etree.ElementTree", "autoskillit_trace.views",
    }  # fmt: skip
    assert modules_run_imports(log_root, env, exporting) == []


@contextlib.contextmanager
def gateway(tmp_path: Path, answer: str) -> Iterator[str]:
    """The URL of a misbehaving Pushgateway (workloads.py gateway), for the block's time."""
    portfile = tmp_path / f"gateway-{answer}.json"
    proc = subprocess.Popen(workload("gateway", portfile, answer))
    try:
        port = wait_for(lambda: (read_json(portfile) or {}).get("port"), what="gateway port")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def test_unreachable_gateway_costs_at_most_the_timeout(log_root: Path, tmp_path: Path) -> None:
    """A gateway that accepts the connection and never answers: given up on, one warning,
    same status (how long it takes is a figure of ``make bench``: "export, unanswering
    gateway")."""
    with gateway(tmp_path, "never") as url:
        # It would wait forever without its own timeout; run_traced's is the hang guard.
        traced = run_traced(log_root, workload("exit", 7), extra=("--pushgateway", url))
    assert traced.proc.returncode == 7
    assert traced.stderr.count('"export failed"') == 1 and "no answer within 2 s" in traced.stderr
    assert traced.session.summary["exit_code"] == 7  # published before the push


# -- real Prometheus ----------------------------------------------------------------


@needs_prometheus
def test_pushed_sessions_reach_prometheus(stack: Stack, log_root: Path) -> None:
    traced = run_traced(
        log_root,
        workload("exit", 3),
        extra=("--pushgateway", stack.pushgateway, "--label", "job=build", "--label", "runner=r1"),
    )
    assert traced.proc.returncode == 3, traced.stderr
    assert '"export failed"' not in traced.stderr
    selector = f'{{job="build",runner="r1",command="{PYTHON}"}}'
    assert value(stack.wait_query(f"autoskillit_trace_session_exit_code{selector}")) == 3
    assert value(stack.query(f"autoskillit_trace_session_success{selector}")) == 0
    summary = traced.session.summary
    rss = value(stack.query(f"autoskillit_trace_session_peak_tree_rss_bytes{selector}"))
    assert rss == summary["peak_tree_rss_kb"] * 1024
    (series,) = stack.query(f"autoskillit_trace_session_duration_seconds{selector}")
    assert series["metric"]["instance"] == os.uname().nodename
    assert series["metric"]["slot"] == "0"
    assert "session_id" not in series["metric"]


@needs_prometheus
def test_concurrent_sessions_of_one_runner_do_not_overwrite(stack: Stack, log_root: Path) -> None:
    extra = ("--pushgateway", stack.pushgateway, "--label", "job=parallel")
    procs = [
        start_traced(log_root, workload("sleep", 1.0), extra=extra),
        start_traced(log_root, workload("sleep", 1.0), extra=extra),
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    result = stack.wait_query('autoskillit_trace_session_success{job="parallel"}', count=2)
    assert sorted(r["metric"]["slot"] for r in result) == ["0", "1"]
    run_traced(log_root, workload("exit", 0), extra=extra)  # alone again: slot 0 reused
    time.sleep(1.5)
    assert len(stack.query('autoskillit_trace_session_success{job="parallel"}')) == 2


@needs_prometheus
def test_textfile_is_scraped_by_node_exporter(stack: Stack, log_root: Path) -> None:
    traced = run_traced(
        log_root,
        workload("exit", 0),
        extra=("--textfile-dir", stack.textfile_dir, "--label", "step=lint"),
    )
    assert traced.proc.returncode == 0, traced.stderr
    query = 'autoskillit_trace_session_success{job="node",step="lint"}'
    assert value(stack.wait_query(query)) == 1


def readme_queries() -> list[str]:
    text = README.read_text()
    section = text[text.index("### Questions PromQL answers") :]
    block = re.search(r"```promql\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


@needs_prometheus
def test_readme_queries_answer_their_questions(stack: Stack, log_root: Path) -> None:
    leak, oom, slowest = readme_queries()
    push = ("--pushgateway", stack.pushgateway)
    runs = [
        (workload("grow", 3, 4, 0.05), ("--label", "job=leaky")),
        (workload("oom", 0.2, 0.5, 1), ("--label", "job=oomy")),
        (workload("sleep", 0.3), ("--label", "job=healthy")),
        (
            workload("replay", FIXTURES / "claude_tool_error.jsonl", "0.05"),
            ("--label", "job=agent", "--agent-events"),
        ),
    ]
    summaries = []
    for command, extra in runs:
        traced = run_traced(log_root, command, extra=(*push, *extra))
        assert '"export failed"' not in traced.stderr, traced.stderr
        summaries.append(index_records(log_root)[-1])
    assert summaries[0]["anomaly_count"] > 0, summaries[0]
    stack.wait_query("autoskillit_trace_session_success", count=4)
    assert {r["metric"]["job"] for r in stack.wait_query(leak)} == {"leaky"}
    assert {r["metric"]["job"] for r in stack.wait_query(oom)} == {"oomy"}
    slow = stack.wait_query(slowest)
    assert {r["metric"]["job"] for r in slow} == {"agent"}


def test_a_gateway_answering_byte_by_byte_is_cut_at_the_timeout(
    log_root: Path, tmp_path: Path
) -> None:
    """Each byte within urllib's per-read timeout, the whole answer far beyond it."""
    with gateway(tmp_path, "drip") as url:
        # The whole answer takes 63 s: a run that waited for it would pass the timeout.
        traced = run_traced(log_root, workload("exit", 0), extra=("--pushgateway", url), timeout=45)
    assert traced.proc.returncode == 0
    assert traced.stderr.count('"export failed"') == 1 and "no answer within 2 s" in traced.stderr


def test_every_failed_export_is_one_warning_and_the_status_stays(
    tmp_path: Path, log_root: Path
) -> None:
    step = tmp_path / "no-such-dir" / "summary.md"
    env = clean_env(tmp_path, GITHUB_STEP_SUMMARY=str(step))
    extra = (
        "--textfile-dir", tmp_path / "missing",
        "--junit", tmp_path / "missing" / "junit.xml",
        "--pushgateway", "http://bob:s3cret@127.0.0.1:9",
    )  # fmt: skip
    traced = run_traced(log_root, workload("echo", "out"), extra=extra, env=env)
    assert traced.proc.returncode == 0
    assert traced.stdout == "out\n"
    warnings = [line for line in traced.stderr.splitlines() if '"export failed"' in line]
    assert len(warnings) == 4, traced.stderr
    assert "s3cret" not in traced.stderr and "bob:[REDACTED]@127.0.0.1:9" in traced.stderr
    assert traced.session.summary["success"] is True


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
