"""The Pushgateway target: groups, the timeout, and real pushes read back from Prometheus."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from helpers import (
    FIXTURES,
    WORKLOAD_COMMAND,
    index_records,
    read_json,
    run_traced,
    wait_for,
    workload,
)
from promstack import Stack, value

from autoskillit_trace.export.pushgateway import grouping_key, push_url

README = Path(__file__).resolve().parents[1] / "README.md"


def test_grouping_key_and_url() -> None:
    labels = {"command": "make", "host": "ci-1", "slot": "0", "runner": "a/b"}
    key = grouping_key(labels)
    assert list(key) == ["job", "instance", "command", "host", "slot", "runner"]
    assert key["job"] == "autoskillit_trace" and key["instance"] == "ci-1"
    assert grouping_key({**labels, "job": "build"})["job"] == "build"
    url = push_url("http://gw:9091/", key)
    assert url.startswith("http://gw:9091/metrics/job@base64/")
    assert "a/b" not in url  # values are base64url: a '/' cannot break the path


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


def test_a_gateway_answering_byte_by_byte_is_cut_at_the_timeout(
    log_root: Path, tmp_path: Path
) -> None:
    """Each byte within urllib's per-read timeout, the whole answer far beyond it."""
    with gateway(tmp_path, "drip") as url:
        # The whole answer takes 63 s: a run that waited for it would pass the timeout.
        traced = run_traced(log_root, workload("exit", 0), extra=("--pushgateway", url), timeout=45)
    assert traced.proc.returncode == 0
    assert traced.stderr.count('"export failed"') == 1 and "no answer within 2 s" in traced.stderr


# -- real Prometheus ----------------------------------------------------------------


def test_pushed_sessions_reach_prometheus(stack: Stack, log_root: Path) -> None:
    traced = run_traced(
        log_root,
        workload("exit", 3),
        extra=("--pushgateway", stack.pushgateway, "--label", "job=build", "--label", "runner=r1"),
    )
    assert traced.proc.returncode == 3, traced.stderr
    assert '"export failed"' not in traced.stderr
    selector = f'{{job="build",runner="r1",command="{WORKLOAD_COMMAND}"}}'
    assert value(stack.wait_query(f"autoskillit_trace_session_exit_code{selector}")) == 3
    assert value(stack.query(f"autoskillit_trace_session_success{selector}")) == 0
    summary = traced.session.summary
    rss = value(stack.query(f"autoskillit_trace_session_peak_tree_rss_bytes{selector}"))
    assert rss == summary["peak_tree_rss_kb"] * 1024
    (series,) = stack.query(f"autoskillit_trace_session_duration_seconds{selector}")
    assert series["metric"]["instance"] == os.uname().nodename
    assert series["metric"]["slot"] == "0"
    assert "session_id" not in series["metric"]


def readme_queries() -> list[str]:
    text = README.read_text()
    section = text[text.index("### Questions PromQL answers") :]
    block = re.search(r"```promql\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


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
