"""The Gemini CLI's stream-json: on captured streams (fixtures/README.md), and live."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, Traced, replay_stream, run_traced
from standins import (
    COMMANDS,
    FINAL_TEXT,
    GEMINI,
    MODES,
    GeminiModel,
    Script,
    StandIn,
    agent_env,
    gemini_argv,
    gemini_env,
    serving,
    stream_of,
)

from autoskillit_trace.agents import Event, open_stream
from autoskillit_trace.agents.gemini import StreamParser, call_input, claims

SHELL = "run_shell_command"
READ = "read_file"


def replay(name: str) -> tuple[StreamParser, list[Event]]:
    """Feed a captured stream, one second per line; then end it."""
    parser = StreamParser()
    return parser, replay_stream(parser, FIXTURES / name)


def feed(lines: list[dict[str, Any]], cut: bool = False) -> tuple[StreamParser, list[Event]]:
    parser = StreamParser()
    events: list[Event] = []
    for i, line in enumerate(lines):
        events += parser.feed(json.dumps(line).encode(), float(i))
    events += parser.finish(float(len(lines)), cut=cut)
    return parser, events


def shape(events: list[Event]) -> list[tuple[Any, ...]]:
    """Events without their timing and tool ids."""
    drop = {"duration_sec", "tool_use_id"}
    return [(e.level, e.event, {k: e.fields[k] for k in e.fields if k not in drop}) for e in events]


def start(turn: int) -> tuple[Any, ...]:
    return ("INFO", "turn_start", {"turn": turn, "phase": "executing", "max_turns": None})


def done(turn: int, success: bool = True) -> tuple[Any, ...]:
    return ("INFO" if success else "WARNING", "turn_complete", {"turn": turn, "success": success})


def invoked(turn: int) -> tuple[Any, ...]:
    return ("INFO", "agent_invoked", {"agent": SHELL, "turn": turn})


def ran(turn: int, command: str, success: bool = True) -> tuple[Any, ...]:
    fields = {"agent": SHELL, "turn": turn, "success": success, "input": command}
    return ("INFO" if success else "WARNING", "tool_result", fields)


# -- captured streams ------------------------------------------------------------------


def test_two_tool_rounds_are_three_turns() -> None:
    """Each answer after a tool round is a new request: the CLI's own turn loop."""
    parser, events = replay("gemini_two_tools.jsonl")
    assert shape(events) == [
        start(1),
        invoked(1),
        ran(1, COMMANDS[0]),
        done(1),
        start(2),
        invoked(2),
        ran(2, COMMANDS[1]),
        done(2),
        start(3),
        done(3),
    ]
    # The first call: tool_use on line 4, its result on line 5.
    assert [e.fields["duration_sec"] for e in events if e.event == "tool_result"] == [1.0, 1.0]
    assert parser.open_calls == {}
    fields = parser.summary_fields()
    assert fields["agent_session_id"] == "e407ff4a-e2ff-43b5-b75f-c640a722f78d"
    assert fields["tool_calls"] == {SHELL: 2} and fields["tool_call_count"] == 2
    assert fields["cli_tool_calls"] == 2  # the CLI's own count agrees
    assert fields["cli_subtype"] == "success" and fields["is_error"] is False
    assert (fields["input_tokens"], fields["output_tokens"]) == (410, 50)
    assert fields["agent_turns"] == 3 and fields["num_turns"] is None  # the CLI counts none
    assert fields["total_cost_usd"] is None and fields["cache_creation_input_tokens"] is None
    assert fields["cli"] == "gemini" and fields["tool_error_count"] == 0


def test_unauthorized_fails_the_turn_with_the_apis_message() -> None:
    parser, events = replay("gemini_unauthorized.jsonl")
    assert [e[:2] for e in shape(events)] == [
        ("INFO", "turn_start"),
        ("ERROR", "error"),
        ("WARNING", "turn_complete"),
    ]
    error = events[1].fields
    assert error["error_type"] == "result_error" and error["turn"] == 1
    assert "API key not valid" in error["message"]
    fields = parser.summary_fields()
    assert fields["is_error"] is True and fields["cli_subtype"] == "error"
    assert fields["tool_calls"] == {} and fields["tool_call_count"] == 0


def test_a_failed_call_and_a_failure_after_a_tool_round() -> None:
    """A failed tool is an error but not a failed turn; the failed request after it is one."""
    lines = [
        {"type": "init", "session_id": "s", "model": "m"},
        {"type": "tool_use", "tool_name": READ, "tool_id": "t1", "parameters": {}},
        {
            "type": "tool_result",
            "tool_id": "t1",
            "status": "error",
            "error": {"type": "FILE_NOT_FOUND", "message": "no such file"},
        },
        {"type": "result", "status": "error", "error": {"type": "FatalError", "message": "boom"}},
    ]
    parser, events = feed(lines)
    missing = f"{READ}: no such file"
    assert shape(events) == [
        start(1),
        ("INFO", "agent_invoked", {"agent": READ, "turn": 1}),
        ("WARNING", "tool_result", {"agent": READ, "turn": 1, "success": False, "input": "{}"}),
        ("ERROR", "error", {"turn": 1, "error_type": "tool_error", "message": missing}),
        done(1),
        start(2),
        ("ERROR", "error", {"turn": 2, "error_type": "FatalError", "message": "boom"}),
        done(2, success=False),
    ]  # fmt: skip
    assert parser.summary_fields()["tool_error_count"] == 1


def test_calls_open_at_the_end_close_failed() -> None:
    lines = [
        {"type": "init", "session_id": "s", "model": "m"},
        {"type": "tool_use", "tool_name": SHELL, "tool_id": "t1", "parameters": {"command": "x"}},
        {"type": "error", "severity": "warning", "message": "Loop detected"},
    ]
    parser = StreamParser()
    events: list[Event] = []
    for i, line in enumerate(lines):
        events += parser.feed(json.dumps(line).encode(), float(i))
    assert parser.open_calls == {"t1": SHELL}
    assert events[-1].level == "WARNING" and events[-1].fields["error_type"] == "cli_warning"
    events = parser.finish(5.0, cut=True)
    assert [(e.event, e.fields.get("success")) for e in events] == [
        ("tool_result", False),
        ("error", None),
        ("turn_complete", False),
    ]
    assert events[0].fields["duration_sec"] == 4.0 and parser.open_calls == {}


def test_what_a_call_did_is_short() -> None:
    assert call_input({"command": "ls -l", "description": "list"}) == "ls -l"
    assert call_input({"file_path": "/etc/hosts"}) == "/etc/hosts"
    assert call_input({"a": 1}) == '{"a":1}'
    long = call_input({"command": "x" * 500})
    assert len(long) == 200 and long.endswith("…")


def test_claims_only_the_gemini_init_line() -> None:
    assert claims({"type": "init", "session_id": "s", "model": "auto", "timestamp": "t"})
    assert not claims({"type": "system", "subtype": "init", "session_id": "s", "model": "m"})
    assert not claims({"type": "init", "subtype": "x", "session_id": "s", "model": "m"})
    assert not claims({"type": "thread.started", "thread_id": "t"})
    assert not claims({"type": "init", "session_id": 3, "model": "m"})


def test_the_registry_opens_it_by_the_commands_name() -> None:
    assert isinstance(open_stream("auto", ["/usr/local/bin/gemini", "-p", "hi"]), StreamParser)


# -- the real CLI ----------------------------------------------------------------------

needs_gemini = pytest.mark.skipif(GEMINI is None, reason="the Gemini CLI is not installed")


def run_gemini(tmp_path: Path, script: Script) -> tuple[Traced, StandIn, list[dict[str, Any]]]:
    """``autoskillit-trace run --agent-events -- gemini ...`` against a stand-in."""
    with serving(GeminiModel(script)) as api:
        env, work = agent_env(tmp_path)
        traced = run_traced(
            tmp_path / "logs",
            gemini_argv("Run two shell commands"),
            extra=("--agent-events",),
            env=gemini_env(env, api.url),
            cwd=work,
            timeout=180,
        )
    return traced, api, stream_of(traced)


@needs_gemini
def test_live_two_shell_commands(tmp_path: Path) -> None:
    traced, api, stream = run_gemini(tmp_path, MODES["tools"])
    assert traced.proc.returncode == 0, traced.stderr
    results = [line for line in stream if line["type"] == "tool_result"]
    assert [r["output"].splitlines()[0] for r in results] == ["first-marker", "second-marker"]
    assert results[1]["output"].splitlines()[1] == "42"  # the commands really ran
    cli_result = stream[-1]
    assert cli_result["type"] == "result" and cli_result["status"] == "success"
    session = traced.session
    events = session.records("events.jsonl")
    calls = [e for e in events if e["event"] == "tool_result"]
    assert [(c["agent"], c["input"], c["success"]) for c in calls] == [
        (SHELL, COMMANDS[0], True),
        (SHELL, COMMANDS[1], True),
    ]
    assert [e["turn"] for e in events if e["event"] == "turn_start"] == [1, 2, 3]
    summary = session.summary
    assert summary["tool_call_count"] == cli_result["stats"]["tool_calls"] == 2
    assert summary["tool_calls"] == {SHELL: 2}
    assert summary["input_tokens"] == cli_result["stats"]["input_tokens"]
    assert summary["agent_session_id"] == stream[0]["session_id"]
    assert summary["is_error"] is False and summary["success"] is True
    version = subprocess.run([GEMINI, "--version"], capture_output=True, text=True, check=True)
    assert summary["cli"] == "gemini" and summary["cli_version"] == version.stdout.strip()
    assert any(line.get("content") == FINAL_TEXT for line in stream)
    answers = json.dumps([r.body for r in api.requests])
    assert "first-marker\\nLinux" in answers  # the model got the commands' output back


@needs_gemini
def test_live_unauthorized(tmp_path: Path) -> None:
    traced, _, stream = run_gemini(tmp_path, MODES["unauthorized"])
    assert traced.proc.returncode != 0, traced.stderr
    assert stream[-1]["type"] == "result" and stream[-1]["status"] == "error"
    events = traced.session.records("events.jsonl")
    errors = [e for e in events if e["event"] == "error"]
    assert any("API key not valid" in e["message"] for e in errors), errors
    turns = [e for e in events if e["event"] == "turn_complete"]
    assert [t["success"] for t in turns] == [False]
    summary = traced.session.summary
    assert summary["is_error"] is True and summary["cli_subtype"] == "error"
    assert summary["tool_call_count"] == stream[-1]["stats"]["tool_calls"] == 0
    assert summary["exit_code"] == traced.proc.returncode
