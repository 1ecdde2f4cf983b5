"""events.jsonl: the writer, and a real session's log read the ways the seed reads it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, run_traced, workload

from autoskillit_trace.events import EventLog
from autoskillit_trace.faults import Faults
from autoskillit_trace.timeutil import CaptureClock, parse_iso

SEED_FIELDS = {
    "turn_start": {"turn", "phase", "max_turns"},
    "turn_complete": {"turn", "duration_sec", "success"},
    "agent_invoked": {"agent", "turn"},
    "error": {"turn", "error_type", "message"},
}


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the writer ----------------------------------------------------------------------


def test_one_line_per_event_private_and_appended(tmp_path: Path) -> None:
    warnings: list[str] = []
    log = EventLog(tmp_path, Faults(warnings.append), CaptureClock())
    log.emit("INFO", "turn_start", turn=1, phase="planning", max_turns=5)
    with (tmp_path / "events.jsonl").open("a") as other:  # another process appends too
        other.write('{"event": "from_elsewhere"}\n')
    log.write("ERROR", "error", {"turn": 1, "error_type": "E", "message": "m", "level": "x"})
    log.close()
    records = lines_of(tmp_path / "events.jsonl")
    assert [r["event"] for r in records] == ["turn_start", "from_elsewhere", "error"]
    first = records[0]
    assert list(first) == ["timestamp", "level", "event", "turn", "phase", "max_turns"]
    assert first["timestamp"].endswith("+00:00") and parse_iso(first["timestamp"]) is not None
    assert stat.S_IMODE(os.stat(tmp_path / "events.jsonl").st_mode) == 0o600
    assert warnings == []


def test_a_log_that_cannot_be_written_warns_once(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").mkdir()  # opening it for writing fails
    warnings: list[str] = []
    log = EventLog(tmp_path, Faults(warnings.append), CaptureClock())
    log.emit("INFO", "session_start")
    log.emit("INFO", "session_end")
    log.close()
    assert len(warnings) == 1 and "events.jsonl" in warnings[0]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_write_error_warns_once_then_stays_quiet(tmp_path: Path) -> None:
    warnings: list[str] = []
    log = EventLog(tmp_path, Faults(warnings.append), CaptureClock())
    os.dup2(os.open("/dev/full", os.O_WRONLY), log._fd or -1)  # the disk is now full
    log.emit("INFO", "turn_start", turn=1)
    log.emit("INFO", "turn_start", turn=2)
    log.close()
    assert len(warnings) == 1 and "No space left" in warnings[0]


# -- a real session's log ---------------------------------------------------------------


@pytest.fixture
def agent_session(log_root: Path) -> Path:
    """A stand-in agent replaying a captured stream, traced with --agent-events."""
    traced = run_traced(
        log_root,
        workload("replay", FIXTURES / "claude_tool_error.jsonl", "0.02", "--max-turns", "5"),
        extra=("--agent-events",),
    )
    assert traced.proc.returncode == 0, traced.stderr
    return traced.session.folder / "events.jsonl"


def test_agent_session_log_line_by_line(agent_session: Path) -> None:
    records = lines_of(agent_session)
    shapes = [
        (
            r["level"],
            r["event"],
            {k: v for k, v in r.items() if k in SEED_FIELDS.get(r["event"], ())},
        )
        for r in records
        if r["event"] != "anomaly"
    ]
    assert shapes[0][1] == "session_start" and shapes[-1][1] == "session_end"
    assert shapes[1:-1] == [
        ("INFO", "turn_start", {"turn": 1, "phase": "executing", "max_turns": 5}),
        ("INFO", "agent_invoked", {"agent": "Bash", "turn": 1}),
        ("WARNING", "tool_result", {}),  # the failed call completes (not a seed event)
        (
            "ERROR",
            "error",
            {"turn": 1, "error_type": "tool_error", "message": "Bash: Exit code 1 hello-tool"},
        ),
        (
            "INFO",
            "turn_complete",
            {"turn": 1, "success": True, "duration_sec": shapes[5][2]["duration_sec"]},
        ),
        ("INFO", "turn_start", {"turn": 2, "phase": "executing", "max_turns": 5}),
        (
            "INFO",
            "turn_complete",
            {"turn": 2, "success": True, "duration_sec": shapes[7][2]["duration_sec"]},
        ),
    ]
    # 3 lines of 20 ms between init and the tool result; 2 more to the result.
    turn1, turn2 = shapes[5][2]["duration_sec"], shapes[7][2]["duration_sec"]
    assert 0.04 <= turn1 < 1.0 and 0.02 <= turn2 < 1.0
    stamps = [parse_iso(r["timestamp"]) for r in records]
    assert stamps == sorted(stamps)
    end = records[-1]
    assert end["exit_status"] == 0 and end["success"] is True


def test_seed_python_examples_run_unchanged(agent_session: Path, capsys: Any) -> None:
    log_file = agent_session
    with open(log_file) as f:
        events = [json.loads(line) for line in f]
    turn_starts = [e for e in events if e["event"] == "turn_start"]
    errors = [e for e in events if e["event"] == "error"]
    turn_completes = [e for e in events if e["event"] == "turn_complete"]
    total_duration = sum(e["duration_sec"] for e in turn_completes)
    assert len(turn_starts) == 2 and len(errors) == 1 and total_duration > 0

    # monitor_session, as the seed writes it
    current_turn = 0
    total_duration = 0.0
    with open(log_file) as f:
        for line in f:
            event = json.loads(line)
            if event["event"] == "turn_start":
                current_turn = event["turn"]
                print(f"Turn {current_turn}/{event['max_turns']} ({event['phase']})")
            elif event["event"] == "turn_complete":
                total_duration += event["duration_sec"]
                status = "✓" if event["success"] else "✗"
                print(f"  {status} Completed in {event['duration_sec']}s")
            elif event["event"] == "agent_invoked":
                print(f"  → Agent: {event['agent']}")
            elif event["event"] == "error":
                print(f"  ✗ ERROR: {event['message']}")
    print(f"\nTotal duration: {total_duration:.2f}s")
    out = capsys.readouterr().out
    assert "Turn 1/5 (executing)" in out and "→ Agent: Bash" in out
    assert "✗ ERROR: Bash: Exit code 1 hello-tool" in out


JQ = shutil.which("jq")


@pytest.mark.skipif(JQ is None, reason="jq is not installed (the seed's jq recipes need it)")
def test_seed_jq_recipes(agent_session: Path) -> None:
    """The seed's recipes, word for word, with auto.jsonl being our events.jsonl."""

    def recipe(command: str) -> Any:
        shell = command.replace("auto.jsonl", shlex.quote(str(agent_session)))
        proc = subprocess.run(shell, shell=True, capture_output=True, check=True)
        return json.loads(b"[" + proc.stdout.replace(b"}\n{", b"},{") + b"]")

    counts = recipe(
        "cat auto.jsonl | jq -s 'group_by(.event) | map({event: .[0].event, count: length})'"
    )[0]
    by_event = {c["event"]: c["count"] for c in counts}
    assert by_event["turn_start"] == 2 and by_event["turn_complete"] == 2
    errors = recipe("""cat auto.jsonl | jq 'select(.event == "error")'""")
    assert [e["error_type"] for e in errors] == ["tool_error"]
    average = recipe(
        """cat auto.jsonl | jq -s '[.[] | select(.event == "turn_complete") | .duration_sec]"""
        """ | add / length'"""
    )[0]
    assert average > 0
    agents = recipe(
        """cat auto.jsonl | jq -s '[.[] | select(.event == "agent_invoked") | .agent] | unique'"""
    )[0]
    assert agents == ["Bash"]


def test_supervised_processes_append_their_own_turns(log_root: Path) -> None:
    traced = run_traced(log_root, workload("orchestrate", "clarifying", "planning", "executing"))
    assert traced.proc.returncode == 0, traced.stderr
    folder = traced.session.folder
    assert traced.stdout.strip() == str(folder)
    records = lines_of(folder / "events.jsonl")
    phases = [r["phase"] for r in records if r["event"] == "turn_start"]
    assert phases == ["clarifying", "planning", "executing"]
    assert records[0]["event"] == "session_start" and records[-1]["event"] == "session_end"
