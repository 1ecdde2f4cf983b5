"""Tool calls and the processes behind them: the ledger on data, then a real Claude Code
session whose Bash tool runs a real command (the Messages API is a loopback stand-in)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from helpers import (
    FIXTURES,
    Session,
    crash_wrapper,
    prune,
    run_traced,
    start_traced,
    wait_for,
    wait_for_snapshots,
    workload,
)
from standins import CLAUDE, MessagesModel, Script, agent_env, claude_argv, claude_env, serving

from autoskillit_trace.agents import open_stream
from autoskillit_trace.toolcalls import ToolCalls, tool_summary


def test_a_call_gets_the_processes_and_the_peak_of_its_snapshots() -> None:
    calls = ToolCalls()
    calls.observe(["a"], 2, 1000)
    calls.observe(["a", "b"], 1, 3000)
    calls.observe(["b"], 0, 500)
    a = calls.completed({"agent": "Bash", "tool_use_id": "a", "duration_sec": 2.0})
    assert a["processes_started"] == 3 and a["peak_tree_rss_kb"] == 3000
    b = calls.completed({"agent": "Read", "tool_use_id": "b", "duration_sec": 0.5})
    assert b["processes_started"] == 1 and b["peak_tree_rss_kb"] == 3000
    quick = calls.completed({"agent": "Bash", "tool_use_id": "c", "duration_sec": 0.01})
    assert quick["processes_started"] is None and quick["peak_tree_rss_kb"] is None  # unseen
    assert calls.open == {}
    fields = calls.summary_fields()
    assert fields["tool_time_seconds"] == {"Bash": 2.01, "Read": 0.5}
    assert [c["duration_sec"] for c in fields["slowest_tool_calls"]] == [2.0, 0.5, 0.01]


def test_five_slowest_are_kept() -> None:
    calls = ToolCalls()
    for n in range(50):
        calls.completed({"agent": "Bash", "tool_use_id": str(n), "duration_sec": float(n % 17)})
    slowest = calls.summary_fields()["slowest_tool_calls"]
    assert [c["duration_sec"] for c in slowest] == [16.0, 16.0, 15.0, 15.0, 15.0]
    assert list(slowest[0]) == ["name", "input", "duration_sec", "success", "peak_tree_rss_kb"]


def test_tool_summary_counts_the_results_written() -> None:
    """What recovery does with a crashed session's events.jsonl: only tool_result lines
    count, a line cut by the crash (None) and other events are skipped."""
    events = [
        {"event": "turn_start", "turn": 1},
        {"event": "tool_result", "agent": "Bash", "duration_sec": 1.5, "success": True},
        None,
        {"event": "tool_result", "agent": "Read", "duration_sec": 0.25, "success": True},
        {"event": "tool_result", "agent": "Bash", "duration_sec": 0.5, "success": False},
        {"event": "tool_result", "agent": "Bash", "duration_sec": float("nan")},  # damaged
        {"event": "tool_result", "agent": "Bash", "duration_sec": True},
    ]
    fields = tool_summary(events, stream_read=True)
    assert fields["tool_time_seconds"] == {"Bash": 2.0, "Read": 0.25}
    assert [(c["name"], c["success"]) for c in fields["slowest_tool_calls"]] == [
        ("Bash", True),
        ("Bash", False),
        ("Read", True),
    ]
    assert tool_summary([], stream_read=True) == {
        "tool_time_seconds": {},
        "slowest_tool_calls": [],
        "tool_calls": {},
    }


def test_tool_summary_counts_the_calls_and_turns_started() -> None:
    """The counts of a crashed session: one agent_invoked per call (a result or not), one
    turn_start per turn, one failed tool_result per failed call; an error line is not one
    (its error_type may be the CLI's own word, whatever it is)."""
    events = [
        {"event": "turn_start", "turn": 1},
        {"event": "agent_invoked", "agent": "Read", "turn": 1},
        {"event": "agent_invoked", "agent": "Bash", "turn": 1},
        {"event": "tool_result", "agent": "Read", "duration_sec": 0.1, "success": True},
        {"event": "tool_result", "agent": "Bash", "duration_sec": 0.2, "success": False},
        {"event": "error", "error_type": "tool_error", "message": "Bash: exit 1"},
        {"event": "turn_start", "turn": 2},
        {"event": "agent_invoked", "agent": "Bash", "turn": 2},  # cut off by the crash
        {"event": "agent_invoked", "agent": 7},  # damaged: counted, under no name
        {"event": "error", "error_type": "tool_error", "message": "the CLI's own word"},
        None,
    ]
    fields = tool_summary(events, stream_read=True)
    assert fields["tool_calls"] == {"Bash": 2, "Read": 1, "unknown": 1}
    assert list(fields["tool_calls"]) == ["Bash", "Read", "unknown"]  # as the live summary
    assert (fields["agent_turns"], fields["tool_call_count"], fields["tool_error_count"]) == (
        2,
        4,
        1,
    )
    assert "agent_turns" not in tool_summary([{"event": "session_start"}], stream_read=True)
    # Without --agent-events such lines are an orchestrator's: no agent figures from them.
    assert set(tool_summary(events, stream_read=False)) == {
        "tool_time_seconds",
        "slowest_tool_calls",
    }


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("*_*.jsonl")), ids=lambda p: p.name.removesuffix(".jsonl")
)
def test_what_recovery_counts_is_what_the_live_summary_had(path: Path) -> None:
    """Every capture of every format, cut after each of its lines as a crash would cut it:
    the counts taken back from the events written so far equal the parser's own."""
    lines = path.read_bytes().splitlines()
    for cut in range(len(lines) + 1):
        parser = open_stream(path.name.split("_", 1)[0], ["agent"])
        events = [e for i, line in enumerate(lines[:cut]) for e in parser.feed(line, float(i))]
        recovered = tool_summary(({"event": e.event, **e.fields} for e in events), True)
        live = parser.summary_fields()
        assert recovered["tool_calls"] == live["tool_calls"], cut
        for name in ("agent_turns", "tool_call_count", "tool_error_count"):
            assert recovered.get(name) in (None, live[name]), (cut, name)
            assert name in recovered or not live["tool_calls"], (cut, name)


def test_a_crashed_session_keeps_its_completed_calls(log_root: Path, env: dict[str, str]) -> None:
    """Killed after two calls completed: recovery gives the time per tool and the slowest
    calls from the tool_result lines the session wrote."""
    replay = shlex.join(workload("replay", FIXTURES / "claude_2.1.332_two_tools.jsonl", "0.02"))
    command = ["bash", "-c", f"{replay} && exec sleep 60"]
    proc = start_traced(log_root, command, interval=0.1, extra=("--agent-events",))
    folder = wait_for_snapshots(log_root, 1)
    results = lambda: [  # noqa: E731
        e for e in Session(folder).records("events.jsonl") if e["event"] == "tool_result"
    ]
    written = wait_for(lambda: len(results()) == 2 and results(), what="two tool results")
    assert Session(folder).records()[0]["agent_events"] is True  # how recovery knows
    crash_wrapper(proc, folder)
    done = prune(log_root, env)
    assert done.returncode == 0, done.stderr
    summary = Session(folder).summary
    assert summary["subtype"] == "crashed"
    times: dict[str, float] = {}
    for event in written:
        times[event["agent"]] = round(times.get(event["agent"], 0.0) + event["duration_sec"], 3)
    assert summary["tool_time_seconds"] == times and times
    slowest = sorted(written, key=lambda e: -e["duration_sec"])
    assert [c["input"] for c in summary["slowest_tool_calls"]] == [e["input"] for e in slowest]
    calls: dict[str, int] = {}
    for event in written:
        calls[event["agent"]] = calls.get(event["agent"], 0) + 1
    assert summary["tool_calls"] == calls and summary["tool_call_count"] == 2
    turns = [e for e in Session(folder).records("events.jsonl") if e["event"] == "turn_start"]
    assert summary["agent_turns"] == len(turns) >= 1 and summary["tool_error_count"] == 0
    assert summary["total_cost_usd"] is None  # it comes with the result line only


# The Bash tool's command: a second's sleep, then 60 MB held for a second, a secret on its line.
COMMAND = (
    f"sleep 1; {sys.executable} -c 'x = bytearray(60 << 20); import time; time.sleep(1)'"
    " --token=hunter2-secret-value"
)


@pytest.mark.skipif(CLAUDE is None, reason="the claude CLI is not installed")
def test_a_real_claude_bash_call_owns_its_processes(log_root: Path, tmp_path: Path) -> None:
    with serving(MessagesModel(Script([COMMAND]))) as api:
        env, work = agent_env(tmp_path, **claude_env(api.url))
        argv = claude_argv("run it", "--allowedTools", "Bash", "--max-turns", "3")
        traced = run_traced(
            log_root,
            argv,
            interval=0.1,
            extra=("--agent-events",),
            env=env,
            cwd=work,
            timeout=120,
        )
    assert traced.proc.returncode == 0, traced.stderr
    session = traced.session
    events = session.records("events.jsonl")
    (result,) = [e for e in events if e["event"] == "tool_result"]
    assert result["agent"] == "Bash" and result["success"] is True
    assert result["processes_started"] >= 1
    assert result["peak_tree_rss_kb"] > 60 * 1024
    assert "hunter2" not in result["input"] and "bytearray(60 << 20)" in result["input"]
    call = result["tool_use_id"]
    (hog,) = [
        line
        for line in session.processes
        if line["comm"].startswith("python") and "bytearray(60" in (line["cmdline"] or "")
    ]
    assert hog["tool_use_id"] == call and hog["tool_use_ids"] == [call] and not hog["shared"]
    assert hog["peak_rss_kb"] > 60 * 1024
    assert "hunter2" not in json.dumps(session.processes)
    (claude,) = [line for line in session.processes if line["exit_status"] is not None]
    assert claude["tool_use_id"] is None  # it came before the call
    summary = session.summary
    assert summary["tool_time_seconds"]["Bash"] == result["duration_sec"] >= 2.0
    (slowest,) = summary["slowest_tool_calls"]
    assert slowest["name"] == "Bash" and slowest["input"] == result["input"]
    assert slowest["peak_tree_rss_kb"] == result["peak_tree_rss_kb"]
