"""metrics.render: a summary and labels in, Prometheus' text exposition format out."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from autoskillit_trace.detect import KINDS
from autoskillit_trace.metrics import command_name, label_name_problem, parse_label, render

SUMMARY = {
    "success": False,
    "exit_code": 137,
    "duration_seconds": 12.5,
    "end_ts": "2026-11-22T10:00:00+00:00",
    "peak_rss_kb": 1024,
    "peak_tree_rss_kb": 4096,
    "peak_oom_score": 900,
    "peak_fd_ratio": 0.25,
    "snapshot_count": 26,
    "max_process_rss_kb": 2048,
    "cpu_user_seconds": 61.5,
    "cpu_system_seconds": 2.25,
    "anomalies_by_kind": {"oom_critical": 1, "rss_growth": 2},
    "agent_turns": None,
    "tool_call_count": None,
    "total_cost_usd": None,
}
LABELS = {"command": "make", "host": "ci-1", "slot": "0", "job": "build"}
SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\} (\S+)$')


def samples(text: str) -> dict[tuple[str, str], float]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        out[(match.group(1), match.group(2))] = float(match.group(3))
    return out


def test_every_figure_in_base_units() -> None:
    got = samples(render(SUMMARY, LABELS))
    base = 'command="make",host="ci-1",slot="0",job="build"'
    p = "autoskillit_trace_session_"
    assert got[(p + "duration_seconds", base)] == 12.5
    assert got[(p + "exit_code", base)] == 137
    assert got[(p + "success", base)] == 0
    assert got[(p + "peak_rss_bytes", base)] == 1024 * 1024
    assert got[(p + "peak_tree_rss_bytes", base)] == 4096 * 1024
    assert got[(p + "peak_oom_score", base)] == 900
    assert got[(p + "peak_fd_ratio", base)] == 0.25
    assert got[(p + "snapshots", base)] == 26
    assert got[(p + "max_process_rss_bytes", base)] == 2048 * 1024
    assert got[(p + "cpu_user_seconds", base)] == 61.5
    assert got[(p + "cpu_system_seconds", base)] == 2.25
    assert got[(p + "end_timestamp_seconds", base)] == 1795341600
    assert got[(p + "anomalies", base + ',kind="oom_critical",severity="critical"')] == 1
    assert got[(p + "anomalies", base + ',kind="rss_growth",severity="warning"')] == 2
    assert got[(p + "anomalies", base + ',kind="fd_high",severity="warning"')] == 0
    anomaly_series = [k for k in got if k[0] == p + "anomalies"]
    assert len(anomaly_series) == len(KINDS)  # zeros too: a kind goes back to 0, never vanishes
    assert not any("agent" in name for name, _ in got)  # not an agent session: left out


def test_agent_figures_and_help_lines() -> None:
    text = render({**SUMMARY, "agent_turns": 4, "tool_call_count": 9, "total_cost_usd": 0.0123},
                  {"command": "claude"})  # fmt: skip
    got = samples(text)
    assert got[("autoskillit_trace_session_agent_turns", 'command="claude"')] == 4
    assert got[("autoskillit_trace_session_agent_tool_calls", 'command="claude"')] == 9
    assert got[("autoskillit_trace_session_agent_cost_usd", 'command="claude"')] == 0.0123
    families = re.findall(r"^# TYPE (\S+) gauge$", text, re.MULTILINE)
    helps = re.findall(r"^# HELP (\S+) .+$", text, re.MULTILINE)
    assert families == helps and len(families) == len(set(families))
    assert text.endswith("\n")


def test_label_values_are_escaped() -> None:
    text = render(SUMMARY, {"command": 'we"ird\\name\nx', "empty": ""})
    assert 'command="we\\"ird\\\\name\\nx"' in text
    assert "empty=" not in text  # an empty label is an absent label in Prometheus


def test_a_crashed_summary_leaves_unknown_figures_out() -> None:
    got = samples(render({"success": False, "exit_code": None}, {"command": "x"}))
    names = {name for name, _ in got}
    assert "autoskillit_trace_session_exit_code" not in names
    assert "autoskillit_trace_session_success" in names


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("1abc", "expected [a-zA-Z_][a-zA-Z0-9_]*"),
        ("a-b", "expected [a-zA-Z_][a-zA-Z0-9_]*"),
        ("", "expected [a-zA-Z_][a-zA-Z0-9_]*"),
        ("__name__", "reserved by Prometheus"),
        ("command", "set by autoskillit-trace itself"),
        ("job", None),
        ("runner_2", None),
        ("_x", None),
    ],
)
def test_label_names(name: str, problem: str | None) -> None:
    found = label_name_problem(name)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_parse_label() -> None:
    assert parse_label("job=build") == ("job", "build")
    assert parse_label("url=a=b") == ("url", "a=b")
    assert parse_label("empty=") == ("empty", "")
    with pytest.raises(ValueError, match="not name=value"):
        parse_label("job")


@pytest.mark.parametrize(
    ("command", "argv0", "name"),
    [
        ("/usr/bin/make -j8 'all'", None, "make"),
        ("npm test", None, "npm"),
        ("x", "/opt/bin/pytest", "pytest"),
        ("", None, "unknown"),
        ("'unclosed", None, "'unclosed"),
    ],
)
def test_command_name(command: str, argv0: str | None, name: str) -> None:
    assert command_name(command, argv0) == name


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (prometheus)"
)
def test_promtool_finds_nothing_to_lint() -> None:
    """Prometheus' own linter: format, naming and unit conventions."""
    summary = {**SUMMARY, "agent_turns": 4, "tool_call_count": 9, "total_cost_usd": 0.5}
    proc = subprocess.run(
        ["promtool", "check", "metrics"],
        input=render(summary, LABELS),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
