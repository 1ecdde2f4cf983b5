"""``autoskillit-trace show SESSION``: resolution, summary, anomalies, charts, plots."""

from __future__ import annotations

import importlib.util
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    FIXTURES,
    index_records,
    run_traced,
    start_traced,
    tracer,
    wait_for_snapshots,
    workload,
)

from autoskillit_trace.series import Series
from autoskillit_trace.textfmt import SPARK
from autoskillit_trace.views import chart_lines, show_text


def show(root: Path, env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tracer("show", "--log-dir", root, *args), capture_output=True, text=True, env=env
    )


def _anomalous(root: Path) -> dict[str, object]:
    return next(r for r in index_records(root) if r["anomaly_count"])


def test_summary_anomalies_and_sparklines(recorded: Path, env: dict[str, str]) -> None:
    record = _anomalous(recorded)
    proc = show(recorded, env, record["dir_name"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Session:         {record['session_id']}" in out
    assert "Outcome:         success (exit 0): exited: code 0" in out
    assert "oom_critical" in out and "critical" in out
    charts = {line.split()[0]: line for line in out.splitlines() if any(c in line for c in SPARK)}
    assert {"RSS", "CPU", "Open"} <= set(charts)
    assert any("anomaly" in line and "^" in line for line in out.splitlines())


def test_json(recorded: Path, env: dict[str, str]) -> None:
    record = _anomalous(recorded)
    proc = show(recorded, env, record["dir_name"], "--json")
    data = json.loads(proc.stdout)
    folder = recorded / "sessions" / str(record["dir_name"])
    assert data["summary"] == json.loads((folder / "summary.json").read_text())
    lines = (folder / "anomalies.jsonl").read_text().splitlines()
    assert data["anomalies"] == [json.loads(x) for x in lines]
    assert data["folder"] == str(folder) and data["state"] is None


def test_prefix_and_underscores(recorded: Path, env: dict[str, str]) -> None:
    assert show(recorded, env, "my_j").stdout.startswith("Session:         my-job\n")
    failed = next(r for r in index_records(recorded) if r["exit_code"] == 3)
    full = show(recorded, env, str(failed["dir_name"]).replace("-", "_"))
    assert full.returncode == 0 and "failed (exit 3)" in full.stdout


def test_ambiguous_and_unknown(recorded: Path, env: dict[str, str]) -> None:
    ambiguous = show(recorded, env, "pid")
    assert ambiguous.returncode == 1 and ambiguous.stdout == ""
    assert ambiguous.stderr.startswith("autoskillit-trace: error: 'pid' matches 3 sessions: pid-")
    assert ambiguous.stderr.endswith("; type more of the name\n")
    unknown = show(recorded, env, "nope")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        f"autoskillit-trace: error: no session matches 'nope' in {recorded / 'sessions'} "
        "(see 'autoskillit-trace ls')\n"
    )


def test_running_session(log_root: Path, env: dict[str, str]) -> None:
    proc = start_traced(
        log_root, workload("sleep", 60), interval=0.1, extra=("--session-id", "live")
    )
    wait_for_snapshots(log_root, 2)
    shown = show(log_root, env, "live")
    as_json = show(log_root, env, "live", "--json")
    proc.send_signal(signal.SIGTERM)  # forwarded to the command: the session ends
    proc.communicate(timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "Outcome:         running (no summary yet)" in shown.stdout
    assert json.loads(as_json.stdout)["state"] == "running (no summary yet)"
    assert json.loads(show(log_root, env, "live", "--json").stdout)["state"] is None


def test_plot_png_and_svg(recorded: Path, env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    record = _anomalous(recorded)
    png = tmp_path / "chart.png"
    proc = show(recorded, env, record["dir_name"], "--plot", png)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"chart written to {png}\n"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    svg = tmp_path / "chart.svg"
    assert show(recorded, env, record["dir_name"], "--json", "--plot", svg).returncode == 0
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "oom_critical" in text


def test_plot_without_matplotlib_says_how_to_get_it(
    recorded: Path, env: dict[str, str], tmp_path: Path
) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from autoskillit_trace.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    argv = [sys.executable, "-c", code, "show", "--log-dir", str(recorded), "my-job"]
    proc = subprocess.run(
        [*argv, "--plot", str(tmp_path / "c.png")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "autoskillit-trace: error: --plot needs matplotlib, which is not installed; "
        "install it with: pip install 'autoskillit-trace[plot]'\n"
    )
    assert not (tmp_path / "c.png").exists()


def test_plot_needs_png_or_svg(recorded: Path, env: dict[str, str]) -> None:
    proc = show(recorded, env, "my-job", "--plot", "chart.jpg")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "'chart.jpg' must end in .png or .svg" in proc.stderr


def test_views_on_data() -> None:
    series = Series()
    series.feed({"event": "session_start", "session_id": "s"})
    for seq in range(10):
        series.feed(
            {
                "event": "snapshot",
                "seq": seq,
                "elapsed_s": seq * 0.5,
                "tree_rss_kb": 1024 * (seq + 1),
                "cpu_percent": 10.0 * seq,
                "tree_cpu_percent": None,
                "fd_count": 5,
            }
        )
    series.feed(None)
    assert len(series) == 10 and series.skipped_lines == 1 and series.header is not None
    assert series.values["CPU %"][3] == 30.0  # the command's own value when the tree's is unknown
    lines = chart_lines(series, [4], 100)
    assert lines[0].split()[0] == "RSS" and lines[0].endswith("1.0 MiB .. 10.0 MiB")
    assert lines[1].endswith("0 .. 90 %") and lines[2].endswith("5 .. 5")
    assert lines[3].split() == ["anomaly", "^"]
    assert lines[4].split() == ["0.0s", "4.5s"]
    assert chart_lines(Series(), [], 80) == ["  (no snapshots recorded)"]
    text = show_text({"session_id": "s", "anomaly_count": 0}, "/f", [], series, 80)
    assert text[0] == "Session:         s" and "Anomalies:       0" in text


def test_crashed_session_not_yet_finalized(log_root: Path, env: dict[str, str]) -> None:
    from helpers import crash_wrapper

    proc = start_traced(
        log_root, workload("sleep", 30), interval=0.1, extra=("--session-id", "lost")
    )
    folder = wait_for_snapshots(log_root, 3)
    crash_wrapper(proc, folder)
    shown = show(log_root, env, "lost")
    assert shown.returncode == 0, shown.stderr
    assert (
        "Outcome:         unfinished: the wrapper was lost; "
        "'autoskillit-trace prune' finalizes it" in shown.stdout
    )
    assert not (folder / "summary.json").exists()  # show only reads


def test_unreadable_log_root_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    (root / "sessions.jsonl").mkdir()  # a folder where the index should be
    proc = subprocess.run(tracer("ls", "--log-dir", root), capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr == f"autoskillit-trace: error: {root / 'sessions.jsonl'}: Is a directory\n"


def test_markdown_report(recorded: Path, env: dict[str, str]) -> None:
    record = _anomalous(recorded)
    proc = show(recorded, env, record["dir_name"], "--markdown")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("### ✅ `") and lines[2:4] == ["| | |", "|---|---|"]
    assert "| Outcome | success (exit 0): exited: code 0 |" in lines
    assert f"| Session | `{record['dir_name']}` on {record['hostname']} |" in lines
    anomaly_rows = [line for line in lines if "| critical | oom_critical |" in line]
    assert len(anomaly_rows) == 1 and anomaly_rows[0].startswith("| +")
    assert all(line.count("|") in (0, 3, 6, 7) for line in lines if line.startswith("|"))


def test_markdown_cells_escape_pipes() -> None:
    from autoskillit_trace.views import markdown_lines

    summary = {"skill_command": "sh -c 'a | b'", "success": False, "subtype": "failed",
               "exit_code": 1, "termination_reason": "exited: code 1"}  # fmt: skip
    lines = markdown_lines(summary, [])
    assert lines[0] == "### ❌ `sh -c 'a | b'`"
    assert "| Outcome | failed (exit 1): exited: code 1 |" in lines
    reason = {**summary, "termination_reason": "a|b"}
    assert "| Outcome | failed (exit 1): a\\|b |" in markdown_lines(reason, [])


def test_text_and_markdown_tell_the_same_rows() -> None:
    """One set of rows, two outputs: neither leaves out what the other tells."""
    from autoskillit_trace.views import markdown_lines, summary_lines

    summary = {"snapshot_count": 12, "snapshot_interval_seconds": 0.1, "anomaly_count": 3,
               "anomalies_by_kind": {"oom_critical": 1, "rss_growth": 2}, "agent_turns": 4,
               "tool_call_count": 7, "tool_error_count": 1, "total_cost_usd": 0.12345,
               "tool_calls": {"Read": 1, "Bash": 3}}  # fmt: skip
    text = summary_lines(summary, "/f")
    markdown = markdown_lines(summary, [])
    rows = [
        ("Snapshots", "12 every 0.1s"),
        ("Anomalies", "3 (oom_critical 1, rss_growth 2)"),
        ("Agent turns", "4"),
        ("Tool calls", "7 (1 failed)"),
        ("Cost", "$0.1235"),
    ]
    for label, value in rows:
        assert f"{label + ':':<16} {value}" in text
        assert f"| {label} | {value} |" in markdown
    assert "Tools:           Bash 3, Read 1" in text and "Tools: Bash 3, Read 1" in markdown


def test_the_agent_cli_and_its_version_are_named() -> None:
    from autoskillit_trace.views import markdown_lines, summary_lines

    summary = {"subtype": "idle_stall", "exit_code": 124, "termination_reason": "idle_stall",
               "agent_turns": 1, "cli": "claude", "cli_version": "2.1.332",
               "stalled_retrying": True}  # fmt: skip
    text = summary_lines(summary, "/f")
    markdown = markdown_lines(summary, [])
    outcome = "idle_stall (exit 124): idle_stall, while the agent retried its API"
    for label, value in (("Agent", "claude 2.1.332"), ("Outcome", outcome)):
        assert f"{label + ':':<16} {value}" in text
        assert f"| {label} | {value} |" in markdown
    unknown = summary_lines({**summary, "cli": "gemini", "cli_version": None}, "/f")
    assert f"{'Agent:':<16} gemini" in unknown
    assert not any(line.startswith("Agent:") for line in summary_lines({}, "/f"))


# -- an agent's session id --------------------------------------------------------------


def _agent_run(root: Path, fixture: str, session_id: str) -> str:
    """A real ``--agent-events`` session around a stand-in agent; the agent's session id."""
    stream = FIXTURES / fixture
    traced = run_traced(
        root,
        workload("replay", stream, "0"),
        interval=0.05,
        extra=("-q", "--agent-events", "--session-id", session_id),
    )
    assert traced.proc.returncode == 0, traced.stderr
    record = index_records(root)[-1]
    assert record["dir_name"] == session_id
    agent_id = record["agent_session_id"]
    assert isinstance(agent_id, str) and agent_id in stream.read_text()
    return agent_id


def test_an_agent_session_id_finds_its_session(log_root: Path, env: dict[str, str]) -> None:
    """The index records it so that it finds the session, in every form of ``show``."""
    agent_id = _agent_run(log_root, "claude_tool_error.jsonl", "tools")
    other_id = _agent_run(log_root, "claude_subagent.jsonl", "subagent")
    assert agent_id != other_id
    for query, folder in ((agent_id, "tools"), (other_id, "subagent")):
        proc = show(log_root, env, query)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert proc.stdout.startswith(f"Session:         {folder}\n")
        data = json.loads(show(log_root, env, query, "--json").stdout)
        assert data["summary"]["agent_session_id"] == query
        assert data["folder"] == str(log_root / "sessions" / folder)
    assert show(log_root, env, agent_id[:8]).returncode == 1  # the whole id, not a prefix


def test_a_resumed_agent_session_shows_the_newest(log_root: Path, env: dict[str, str]) -> None:
    """Two sessions of one agent session id: the newest is shown, a warning names the other."""
    agent_id = _agent_run(log_root, "claude_tool_error.jsonl", "zz-first")
    assert _agent_run(log_root, "claude_tool_error.jsonl", "aa-resumed") == agent_id
    proc = show(log_root, env, agent_id)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Session:         aa-resumed\n")
    assert proc.stderr == (
        f"autoskillit-trace: warning: agent session {agent_id!r} was recorded by 2 sessions; "
        "showing the newest, aa-resumed (others: zz-first)\n"
    )


@pytest.mark.parametrize("detail", ["x", [1, 2], 3, True, ""])
def test_an_anomaly_detail_that_is_no_object_is_unknown(
    detail: object, log_root: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """Every reader of the anomaly shows the damaged detail as ``-``; the rest is intact."""
    folder = run_traced(log_root, workload("sleep", 0.2), extra=("--session-id", "s1")).root
    anomaly = {
        "ts": "2026-11-30T13:18:24.3+00:00",
        "seq": 1,
        "event": "anomaly",
        "kind": "oom_critical",
        "severity": "critical",
        "pid": 1,
        "detail": detail,
    }
    (folder / "sessions" / "s1" / "anomalies.jsonl").write_text(json.dumps(anomaly) + "\n")
    text = show(log_root, env, "s1")
    assert text.returncode == 0, text.stderr
    assert "Session:         s1" in text.stdout
    (line,) = [x for x in text.stdout.splitlines() if "oom_critical" in x]
    assert line.split()[-5:] == ["critical", "oom_critical", "pid", "1", "-"]
    markdown = show(log_root, env, "s1", "--markdown")
    assert markdown.returncode == 0, markdown.stderr
    rows = markdown.stdout.splitlines()
    assert any(x.endswith("| critical | oom_critical | 1 | - |") for x in rows)
    html = tmp_path / "s1.html"
    proc = show(log_root, env, "s1", "--html", html)
    assert proc.returncode == 0 and "oom_critical" in html.read_text(), proc.stderr
    site = subprocess.run(
        tracer("report", "--out", tmp_path / "site", "--log-dir", log_root),
        capture_output=True,
        text=True,
        env=env,
    )
    assert site.returncode == 0 and "Traceback" not in site.stderr, site.stderr
    if importlib.util.find_spec("matplotlib") is not None:
        plot = show(log_root, env, "s1", "--plot", tmp_path / "s1.png")
        assert plot.returncode == 0, plot.stderr


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    "field", ["tree_rss_kb", "cpu_percent", "tree_cpu_percent", "tree_fd_count"]
)
def test_a_snapshot_figure_that_is_not_finite_is_unknown(
    field: str, value: float, log_root: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """``Infinity`` or ``NaN`` in a snapshot is a gap in the charts, not a traceback."""
    traced = run_traced(log_root, workload("sleep", 0.5), extra=("--session-id", "s1"))
    assert traced.proc.returncode == 0, traced.stderr
    folder = log_root / "sessions" / "s1"
    lines = [json.loads(x) for x in (folder / "proc_trace.jsonl").read_text().splitlines()]
    snapshots = [x for x in lines if x.get("event") == "snapshot"]
    assert len(snapshots) >= 3
    snapshots[1][field] = value  # json.dumps writes Infinity, -Infinity, NaN
    (folder / "proc_trace.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    text = show(log_root, env, "s1")
    assert text.returncode == 0, text.stderr
    assert "Session:         s1" in text.stdout
    assert any(line.split()[:1] == ["RSS"] for line in text.stdout.splitlines())
    if importlib.util.find_spec("matplotlib") is not None:
        plot = show(log_root, env, "s1", "--plot", tmp_path / "s1.png")
        assert plot.returncode == 0, plot.stderr
