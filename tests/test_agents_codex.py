"""Codex's ``exec --json`` stream: on captures of the real CLI, and the real CLI run live.

The captures are described in fixtures/README.md; the live tests run the
installed ``codex`` through ``autoskillit-trace run --agent-events`` against
the loopback Responses-API stand-in, and skip only when it is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, event_shape, replay_stream, run_traced
from standins import (
    CODEX,
    PROMPT,
    ResponsesModel,
    Script,
    agent_env,
    codex_argv,
    serving,
    stream_of,
)

from autoskillit_trace.agents import claims_of, open_stream
from autoskillit_trace.agents.codex import StreamParser

WARNING = (
    "WARNING",
    "error",
    {
        "turn": None,
        "error_type": "warning",
        "message": "Model metadata for `fake-model` not found. Defaulting to fallback metadata; "
        "this can degrade performance and cause issues.",
    },
)


def captured(name: str) -> tuple[StreamParser, list[Any]]:
    parser = StreamParser()
    return parser, replay_stream(parser, FIXTURES / name)


def commands_run(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Codex's own account: the command_execution items it completed."""
    return [
        r["item"]
        for r in stream
        if r.get("type") == "item.completed" and r["item"].get("type") == "command_execution"
    ]


# -- the captures --------------------------------------------------------------------


def test_two_commands_are_two_tool_calls_in_one_turn() -> None:
    parser, events = captured("codex_two_commands.jsonl")
    call = {"agent": "command_execution", "turn": 1}
    assert event_shape(events) == [
        WARNING,
        ("INFO", "turn_start", {"turn": 1, "phase": "executing", "max_turns": None}),
        ("INFO", "agent_invoked", call),
        ("INFO", "tool_result", {**call, "tool_use_id": "item_1", "success": True,
                                 "input": "/bin/bash -lc 'echo one'"}),
        ("INFO", "agent_invoked", call),
        ("INFO", "tool_result", {**call, "tool_use_id": "item_2", "success": True,
                                 "input": "/bin/bash -lc ls"}),
        ("INFO", "turn_complete", {"turn": 1, "success": True}),
    ]  # fmt: skip
    assert [e.fields["duration_sec"] for e in events if e.event == "tool_result"] == [1.0, 1.0]
    fields = parser.summary_fields()
    assert fields == {
        "agent_session_id": "01a229fc-d3d3-7c03-b8d2-6af012d9a64e",
        "cli_subtype": "completed",
        "is_error": False,
        "num_turns": None,
        "agent_turns": 1,
        "total_cost_usd": None,  # Codex reports no cost: never a made-up 0
        "input_tokens": 3006,
        "output_tokens": 36,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 300,
        "tool_call_count": 2,
        "tool_error_count": 0,
        "tool_calls": {"command_execution": 2},
        "cli": "codex",
        "cli_version": None,
        "reasoning_output_tokens": 0,
        "api_retries": 0,
    }


def test_a_command_that_fails_is_a_failed_call_not_a_failed_turn() -> None:
    parser, events = captured("codex_failing_command.jsonl")
    (result,) = [e for e in events if e.event == "tool_result"]
    assert (result.level, result.fields["success"]) == ("WARNING", False)
    assert result.fields["input"] == "/bin/bash -lc 'ls no-such-file'"
    errors = [e.fields for e in events if e.event == "error" and e.level == "ERROR"]
    assert errors == [
        {
            "turn": 1,
            "error_type": "tool_error",
            "message": "command_execution: exit code 2: "
            "ls: cannot access 'no-such-file': No such file or directory",
        }
    ]
    assert events[-1].fields["success"] is True  # the model saw it and went on
    assert parser.summary_fields()["tool_error_count"] == 1


def test_401_is_five_retries_then_one_error_and_a_failed_turn() -> None:
    parser, events = captured("codex_401.jsonl")
    reason = (
        "unexpected status 401 Unauthorized: Incorrect API key provided: fake., "
        "url: http://127.0.0.1:PORT/v1/responses"
    )
    retries = [e.fields for e in events if e.event == "retry"]
    assert retries == [
        {"turn": 1, "attempt": n, "max_retries": 5, "error": reason} for n in range(1, 6)
    ]
    assert {e.level for e in events if e.event == "retry"} == {"WARNING"}
    errors = [e.fields for e in events if e.event == "error" and e.level == "ERROR"]
    assert errors == [{"turn": 1, "error_type": "stream_error", "message": reason}]  # not twice
    assert event_shape(events)[-1] == ("WARNING", "turn_complete", {"turn": 1, "success": False})
    fields = parser.summary_fields()
    assert fields["is_error"] is True and fields["cli_subtype"] == "failed"
    assert fields["api_retries"] == 5
    assert fields["input_tokens"] is None and fields["output_tokens"] is None


def test_a_stream_cut_mid_command_closes_the_call_and_the_turn_as_failed() -> None:
    lines = (FIXTURES / "codex_two_commands.jsonl").read_bytes().splitlines()
    parser = StreamParser()
    for i, line in enumerate(lines[:4]):  # up to the first item.started
        parser.feed(line, float(i))
    assert parser.open_calls == {"item_1": "command_execution"}
    events = parser.finish(10.0)
    assert parser.open_calls == {}
    assert [(e.event, e.fields.get("success")) for e in events] == [
        ("error", None),  # no turn ended: the stream stopped short
        ("error", None),
        ("tool_result", False),
        ("turn_complete", False),
    ]
    assert events[2].fields["duration_sec"] == 7.0
    assert events[0].fields["error_type"] == "no_result"


def test_claims_its_first_line_only() -> None:
    first = json.loads((FIXTURES / "codex_two_commands.jsonl").read_bytes().splitlines()[0])
    assert claims_of(first) == "codex"
    parser = open_stream("auto", ["node", "wrapper.js"])
    replay_stream(parser, FIXTURES / "codex_two_commands.jsonl")
    assert parser.summary_fields()["cli"] == "codex"


# -- the real CLI, live ----------------------------------------------------------------

needs_codex = pytest.mark.skipif(CODEX is None, reason="codex is not installed")


@needs_codex
@pytest.mark.parametrize("via", ["codex", "env"], ids=["named", "detected"])
def test_live_two_commands(tmp_path: Path, via: str) -> None:
    """The real CLI runs two real commands; the event log agrees with Codex's own account."""
    env, work = agent_env(tmp_path)
    prefix = ["env"] if via == "env" else []
    with serving(ResponsesModel(Script(["echo one", "ls"]))) as api:
        traced = run_traced(
            tmp_path / "logs",
            [*prefix, *codex_argv(api.url, PROMPT)],
            extra=("--agent-events",),
            env=env,
            cwd=work,
            timeout=180,
        )
    assert traced.proc.returncode == 0, traced.stderr
    items = commands_run(stream_of(traced))
    assert [(i["aggregated_output"], i["exit_code"]) for i in items] == [
        ("one\n", 0),
        ("a.txt\n", 0),
    ]
    outputs = [i["output"] for r in api.posts("/v1/responses") for i in r.body["input"]
               if i.get("type") == "function_call_output"]  # fmt: skip
    assert any("one" in str(o) for o in outputs)  # the command's output went back to the model
    session = traced.session
    events = session.records("events.jsonl")
    results = [e for e in events if e["event"] == "tool_result"]
    assert [(r["tool_use_id"], r["input"], r["success"]) for r in results] == [
        (i["id"], i["command"], True) for i in items
    ]
    summary = session.summary
    assert summary["cli"] == "codex"
    assert summary["tool_calls"] == {"command_execution": len(items)}
    assert summary["agent_turns"] == 1 and summary["is_error"] is False
    thread = next(r for r in stream_of(traced) if r["type"] == "thread.started")
    assert summary["agent_session_id"] == thread["thread_id"]
    usage = next(r for r in stream_of(traced) if r["type"] == "turn.completed")["usage"]
    assert summary["input_tokens"] == usage["input_tokens"] > 0
    assert summary["output_tokens"] == usage["output_tokens"]


@needs_codex
def test_live_401(tmp_path: Path) -> None:
    """A refused key: Codex retries, fails the turn and exits 1, and the log says so."""
    env, work = agent_env(tmp_path)
    with serving(ResponsesModel(Script([], fail=401))) as api:
        traced = run_traced(
            tmp_path / "logs",
            codex_argv(api.url, PROMPT),
            extra=("--agent-events",),
            env=env,
            cwd=work,
            timeout=180,
        )
    assert traced.proc.returncode == 1, traced.stderr
    stream = stream_of(traced)
    said_retry = [r for r in stream if r["type"] == "error" and "Reconnecting" in r["message"]]
    events = traced.session.records("events.jsonl")
    assert len([e for e in events if e["event"] == "retry"]) == len(said_retry) > 0
    assert [e["event"] for e in events if e["level"] == "ERROR"] == ["error"]
    assert events[-2]["event"] == "turn_complete" and events[-2]["success"] is False
    summary = traced.session.summary
    assert summary["is_error"] is True and summary["cli_subtype"] == "failed"
    assert summary["exit_code"] == 1 and summary["api_retries"] == len(said_retry)
    assert len(api.posts("/v1/responses")) == len(said_retry) + 1


def test_the_other_acting_items_are_tool_calls_too() -> None:
    """Shapes from Codex's exec_events: MCP calls, file changes, web searches."""
    mcp = {"id": "item_5", "type": "mcp_tool_call", "server": "docs", "tool": "lookup",
           "arguments": {"query": "pipes"}, "status": "in_progress"}  # fmt: skip
    lines = [
        {"type": "thread.started", "thread_id": "t"},
        {"type": "turn.started"},
        {"type": "item.started", "item": mcp},
        {"type": "item.completed",
         "item": {**mcp, "status": "failed", "error": {"message": "server gone"}}},
        {"type": "item.completed", "item": {"id": "item_6", "type": "file_change", "status":
         "completed", "changes": [{"path": "a.py", "kind": "update"}]}},
        {"type": "item.completed",
         "item": {"id": "item_7", "type": "web_search", "query": "linux pipes"}},
        {"type": "item.completed", "item": {"id": "item_8", "type": "reasoning", "text": "hm"}},
        {"type": "turn.completed", "usage": {"input_tokens": 5, "output_tokens": 1}},
    ]  # fmt: skip
    parser = StreamParser()
    events = [e for i, r in enumerate(lines) for e in parser.feed(json.dumps(r).encode(), i)]
    results = [(e.fields["agent"], e.fields["success"], e.fields["input"], e.fields["duration_sec"])
               for e in events if e.event == "tool_result"]  # fmt: skip
    assert results == [
        ("docs.lookup", False, "pipes", 1.0),
        ("file_change", True, "a.py", 0.0),
        ("web_search", True, "linux pipes", 0.0),
    ]
    (error,) = [e.fields for e in events if e.event == "error"]
    assert error["message"] == "docs.lookup: server gone"
    fields = parser.summary_fields()
    assert fields["tool_calls"] == {"docs.lookup": 1, "file_change": 1, "web_search": 1}
    assert fields["cache_read_input_tokens"] is None  # not in this usage: not a 0
