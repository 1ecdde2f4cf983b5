"""The Pushgateway target: groups, the timeout, and real pushes read back from Prometheus."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

from helpers import WORKLOAD_COMMAND, index_records, run_traced, workload
from promstack import Stack, value

from autoskillit_trace.export.pushgateway import grouping_key, push_url

README = Path(__file__).resolve().parents[1] / "README.md"
FIXTURES = Path(__file__).with_name("fixtures")


def test_grouping_key_and_url() -> None:
    labels = {"command": "make", "host": "ci-1", "slot": "0", "runner": "a/b"}
    key = grouping_key(labels)
    assert list(key) == ["job", "instance", "command", "host", "slot", "runner"]
    assert key["job"] == "autoskillit_trace" and key["instance"] == "ci-1"
    assert grouping_key({**labels, "job": "build"})["job"] == "build"
    url = push_url("http://gw:9091/", key)
    assert url.startswith("http://gw:9091/metrics/job@base64/")
    assert "a/b" not in url  # values are base64url: a '/' cannot break the path


def test_unreachable_gateway_costs_at_most_the_timeout(log_root: Path) -> None:
    """A gateway that accepts the connection and never answers: 2 s, one warning, same status."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        traced = run_traced(log_root, workload("exit", 7), extra=("--pushgateway", url))
        took = time.monotonic() - started
    assert traced.proc.returncode == 7
    assert traced.stderr.count('"export failed"') == 1
    assert 2.0 <= took < 4.5, took
    assert traced.session.summary["exit_code"] == 7  # published before the push


def test_a_gateway_answering_byte_by_byte_is_cut_at_the_timeout(log_root: Path) -> None:
    """Each byte within urllib's per-read timeout, the whole answer far beyond it."""
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        stop = threading.Event()

        def drip() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                    if stop.wait(0.5):
                        return
                    conn.sendall(bytes([byte]))

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        traced = run_traced(log_root, workload("exit", 0), extra=("--pushgateway", url))
        took = time.monotonic() - started
        stop.set()
        thread.join(timeout=5)
    assert traced.proc.returncode == 0
    assert traced.stderr.count('"export failed"') == 1 and "no answer within 2 s" in traced.stderr
    assert took < 4.5, took


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
