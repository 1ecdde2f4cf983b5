"""Copilot CLI's ``--output-format json`` stream: on captures of the real CLI, and live.

The captures are described in fixtures/README.md; the live tests run the
installed ``copilot`` through ``autoskillit-trace run --agent-events``
against the loopback Responses-API stand-in, and skip only when it is not
installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, event_shape, replay_stream, run_traced
from standins import (
    COPILOT,
    PROMPT,
    ResponsesModel,
    Script,
    agent_env,
    copilot_argv,
    copilot_env,
    serving,
    stream_of,
)

from autoskillit_trace.agents import claims_of, open_stream
from autoskillit_trace.agents.copilot import StreamParser


def captured(name: str) -> tuple[StreamParser, list[Any]]:
    parser = StreamParser()
    return parser, replay_stream(parser, FIXTURES / name)


def of_type(stream: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in stream if r.get("type") == kind]


# -- the captures --------------------------------------------------------------------


def test_two_commands_are_two_tool_calls_in_three_model_rounds() -> None:
    parser, events = captured("copilot_two_commands.jsonl")
    start = {"phase": "executing", "max_turns": None}
    assert event_shape(events) == [
        ("INFO", "turn_start", {"turn": 1, **start}),
        ("INFO", "agent_invoked", {"agent": "bash", "turn": 1}),
        ("INFO", "tool_result", {"agent": "bash", "tool_use_id": "call_1", "turn": 1,
                                 "success": True, "input": "echo one"}),
        ("INFO", "turn_complete", {"turn": 1, "success": True}),
        ("INFO", "turn_start", {"turn": 2, **start}),
        ("INFO", "agent_invoked", {"agent": "bash", "turn": 2}),
        ("INFO", "tool_result", {"agent": "bash", "tool_use_id": "call_2", "turn": 2,
                                 "success": True, "input": "ls"}),
        ("INFO", "turn_complete", {"turn": 2, "success": True}),
        ("INFO", "turn_start", {"turn": 3, **start}),
        ("INFO", "turn_complete", {"turn": 3, "success": True}),
    ]  # fmt: skip
    assert parser.summary_fields() == {
        "agent_session_id": "cfc03345-19d8-4af0-8268-b087bd748179",
        "cli_subtype": None,
        "is_error": False,
        "num_turns": None,
        "agent_turns": 3,
        "total_cost_usd": None,
        "input_tokens": None,  # Copilot reports no tokens: never a made-up 0
        "output_tokens": None,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
        "tool_call_count": 2,
        "tool_error_count": 0,
        "tool_calls": {"bash": 2},
        "cli": "copilot",
        "cli_version": None,
        "cli_exit_code": 0,
        "premium_requests": 0,
        "total_api_duration_ms": 80,
        "session_duration_ms": 328,
        "api_retries": 0,
    }


def test_a_command_exiting_non_zero_is_a_failed_call() -> None:
    """Copilot says the tool call succeeded; the shell's exit code 2 says the command failed."""
    parser, events = captured("copilot_failing_command.jsonl")
    (result,) = [e for e in events if e.event == "tool_result"]
    assert (result.level, result.fields["success"], result.fields["input"]) == (
        "WARNING",
        False,
        "ls no-such-file",
    )
    (error,) = [e.fields for e in events if e.event == "error"]
    assert error["error_type"] == "tool_error"
    assert error["message"].startswith("bash: ls: cannot access 'no-such-file'")
    assert parser.summary_fields()["tool_error_count"] == 1
    assert parser.summary_fields()["is_error"] is False


def test_401_is_retries_a_failed_turn_and_the_session_error() -> None:
    parser, events = captured("copilot_401.jsonl")
    assert [e.fields for e in events if e.event == "retry"] == [
        {"turn": 1, "attempt": 1, "error": "transient_auth_error"},
        {"turn": 1, "attempt": 2, "error": "transient_auth_error"},
    ]
    assert event_shape(events)[-2:] == [
        ("WARNING", "turn_complete", {"turn": 1, "success": False}),
        (
            "ERROR",
            "error",
            {
                "turn": 1,
                "error_type": "authentication",
                "message": "Authentication failed with provider at http://127.0.0.1:PORT/v1 "
                "(HTTP 401). Check your COPILOT_PROVIDER_API_KEY, "
                "COPILOT_PROVIDER_API_KEY_COMMAND, or COPILOT_PROVIDER_BEARER_TOKEN.",
            },
        ),
    ]
    fields = parser.summary_fields()
    assert (fields["is_error"], fields["cli_exit_code"], fields["api_retries"]) == (True, 1, 2)


def test_a_stream_without_its_result_ends_open_calls_and_says_so() -> None:
    lines = (FIXTURES / "copilot_two_commands.jsonl").read_bytes().splitlines()
    cut = next(i for i, line in enumerate(lines) if b'"tool.execution_start"' in line)
    parser = StreamParser()
    for i, line in enumerate(lines[: cut + 1]):
        parser.feed(line, float(i))
    assert parser.open_calls == {"call_1": "bash"}
    events = parser.finish(100.0)
    assert [(e.event, e.fields.get("error_type"), e.fields.get("success")) for e in events] == [
        ("error", "no_result", None),
        ("error", "tool_error", None),
        ("tool_result", None, False),
        ("turn_complete", None, False),
    ]
    assert parser.summary_fields()["agent_session_id"] is None


def test_claims_its_first_line() -> None:
    first = json.loads((FIXTURES / "copilot_two_commands.jsonl").read_bytes().splitlines()[0])
    assert first["type"] == "session.skills_loaded"
    assert claims_of(first) == "copilot"
    parser = open_stream("auto", ["/usr/local/bin/gh-copilot-wrapper"])
    replay_stream(parser, FIXTURES / "copilot_401.jsonl")
    assert parser.summary_fields()["cli"] == "copilot"


# -- the real CLI, live ----------------------------------------------------------------

needs_copilot = pytest.mark.skipif(COPILOT is None, reason="copilot (Copilot CLI) is not installed")


def traced_copilot(tmp_path: Path, script: Script) -> Any:
    """Copilot CLI run through the wrapper against a stand-in: (traced run, stand-in)."""
    with serving(ResponsesModel(script)) as api:
        env, work = agent_env(tmp_path, **copilot_env(api.url))
        traced = run_traced(
            tmp_path / "logs",
            copilot_argv(PROMPT),
            extra=("--agent-events",),
            env=env,
            cwd=work,
            timeout=180,
        )
    return traced, api


@needs_copilot
def test_live_two_commands(tmp_path: Path) -> None:
    """The real CLI runs two real commands; the event log agrees with Copilot's own account."""
    traced, api = traced_copilot(tmp_path, Script(["echo one", "ls"]))
    assert traced.proc.returncode == 0, traced.stderr
    stream = stream_of(traced)
    done = of_type(stream, "tool.execution_complete")
    assert [d["data"]["result"]["content"].split("\n")[0] for d in done] == ["one", "a.txt"]
    events = traced.session.records("events.jsonl")
    results = [e for e in events if e["event"] == "tool_result"]
    assert [(r["tool_use_id"], r["success"]) for r in results] == [
        (d["data"]["toolCallId"], True) for d in done
    ]
    assert [r["input"] for r in results] == ["echo one", "ls"]
    summary = traced.session.summary
    (result,) = of_type(stream, "result")
    assert summary["agent_session_id"] == result["sessionId"]
    assert summary["agent_turns"] == len(of_type(stream, "assistant.turn_start"))
    assert summary["tool_calls"] == {"bash": len(done)}
    assert summary["cli"] == "copilot" and summary["is_error"] is False
    assert summary["premium_requests"] == result["usage"]["premiumRequests"]
    assert summary["input_tokens"] is None
    assert len(api.posts("/v1/responses")) == 3


@needs_copilot
def test_live_401(tmp_path: Path) -> None:
    """A refused key: Copilot retries, reports a session error and exits 1; the log says so."""
    traced, api = traced_copilot(tmp_path, Script([], fail=401))
    assert traced.proc.returncode == 1, traced.stderr
    stream = stream_of(traced)
    events = traced.session.records("events.jsonl")
    retries = [e for e in events if e["event"] == "retry"]
    assert len(retries) == len(of_type(stream, "assistant.turn_retry")) > 0
    errors = [e for e in events if e["event"] == "error"]
    assert [e["error_type"] for e in errors] == ["authentication"]
    summary = traced.session.summary
    assert summary["is_error"] is True and summary["cli_exit_code"] == 1
    assert summary["exit_code"] == 1 and summary["tool_call_count"] == 0
    assert len(api.posts("/v1/responses")) >= len(retries) + 1
