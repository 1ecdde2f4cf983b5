"""Claude Code's stream-json, on streams captured from the real CLI (see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, Traced, replay_stream, run_traced
from helpers import event_shape as shape
from hypothesis import given, settings
from hypothesis import strategies as st
from standins import (
    CLAUDE,
    MODES,
    MessagesModel,
    Script,
    agent_env,
    claude_argv,
    claude_env,
    serving,
    stream_of,
)

from autoskillit_trace.agents import Event, open_stream
from autoskillit_trace.agents.claude import StreamParser, max_turns_from_argv

CAPTURED = sorted(FIXTURES.glob("claude_*.jsonl"))


def replay(name: str, max_turns: int | None = None) -> tuple[StreamParser, list[Event]]:
    """Feed a captured stream, one second per line; then end it."""
    parser = StreamParser(max_turns=max_turns)
    return parser, replay_stream(parser, FIXTURES / name)


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_turn_count_agrees_with_the_cli(path: Path) -> None:
    parser, _ = replay(path.name)
    if not parser.results:
        pytest.skip("this capture has no result line")
    cli_turns = sum(result["num_turns"] for result in parser.results)  # one per result
    assert parser.turns == cli_turns
    assert parser.summary_fields()["agent_turns"] == cli_turns


def test_not_logged_in() -> None:
    """Real CLI without credentials: subtype success, yet is_error; the turn failed."""
    parser, events = replay("claude_not_logged_in.jsonl", max_turns=3)
    assert shape(events) == [
        ("INFO", "turn_start", {"turn": 1, "phase": "executing", "max_turns": 3}),
        (
            "ERROR",
            "error",
            {
                "turn": 1,
                "error_type": "authentication_failed",
                "message": "Not logged in · Please run /login",
            },
        ),
        (
            "ERROR",
            "error",
            {
                "turn": 1,
                "error_type": "result_is_error",
                "message": "Not logged in · Please run /login",
            },
        ),
        ("WARNING", "turn_complete", {"turn": 1, "success": False}),
    ]
    fields = parser.summary_fields()
    assert fields["agent_session_id"] == "1639846d-7515-4faf-a4a4-792b10bd54d7"
    assert fields["cli_subtype"] == "success"
    assert fields["is_error"] is True
    assert fields["num_turns"] == 1
    assert fields["total_cost_usd"] == 0


def test_tool_error_and_second_turn() -> None:
    parser, events = replay("claude_tool_error.jsonl")
    assert shape(events) == [
        ("INFO", "turn_start", {"turn": 1, "phase": "executing", "max_turns": None}),
        ("INFO", "agent_invoked", {"agent": "Bash", "turn": 1}),
        (
            "WARNING",
            "tool_result",
            {
                "agent": "Bash",
                "tool_use_id": "toolu_fake002_1",
                "turn": 1,
                "success": False,
                "input": "echo hello-tool && false",
            },
        ),
        (
            "ERROR",
            "error",
            {"turn": 1, "error_type": "tool_error", "message": "Bash: Exit code 1 hello-tool"},
        ),
        ("INFO", "turn_complete", {"turn": 1, "success": True}),
        ("INFO", "turn_start", {"turn": 2, "phase": "executing", "max_turns": None}),
        ("INFO", "turn_complete", {"turn": 2, "success": True}),
    ]
    # Turn 1: init (line 1) to the tool result (line 4); turn 2: to the result (line 6).
    assert [e.fields["duration_sec"] for e in events if e.event == "turn_complete"] == [3.0, 2.0]
    fields = parser.summary_fields()
    assert fields["tool_calls"] == {"Bash": 1}
    assert fields["tool_error_count"] == 1
    assert fields["is_error"] is False
    assert fields["input_tokens"] == 205 and fields["output_tokens"] == 25


def test_a_tool_call_runs_from_its_tool_use_to_its_tool_result() -> None:
    """Open while it runs (the session ties processes to it), then one tool_result."""
    parser = StreamParser()
    lines = (FIXTURES / "claude_tool_error.jsonl").read_bytes().splitlines()
    seen: list[dict[str, str]] = []
    results: list[Event] = []
    for now, line in enumerate(lines, start=1):
        results += [e for e in parser.feed(line, float(now)) if e.event == "tool_result"]
        seen.append(parser.open_calls)
    assert seen[:4] == [{}, {}, {"toolu_fake002_1": "Bash"}, {}]  # tool_use on line 3
    (result,) = results
    assert result.fields["duration_sec"] == 1.0  # its tool_result came on line 4
    assert parser.open_calls == {}


def test_calls_still_open_at_the_end_fail_there() -> None:
    parser = StreamParser()
    lines = (FIXTURES / "claude_tool_error.jsonl").read_bytes().splitlines()
    for now, line in enumerate(lines[:3], start=1):
        parser.feed(line, float(now))
    (result,) = [e for e in parser.finish(10.5, cut=True) if e.event == "tool_result"]
    assert result.level == "WARNING"
    assert result.fields["success"] is False and result.fields["duration_sec"] == 7.5
    assert parser.open_calls == {}


def test_subagent_tool_calls_complete_too() -> None:
    _, events = replay("claude_subagent.jsonl")
    done = [e.fields for e in events if e.event == "tool_result"]
    assert sorted(f["agent"] for f in done) == ["Agent", "Bash", "Bash"]
    agent = next(f for f in done if f["agent"] == "Agent")
    bash = [f for f in done if f["agent"] == "Bash"]
    assert all(f["duration_sec"] <= agent["duration_sec"] for f in bash)  # inside the subagent's


def test_tool_input_is_what_the_call_did_in_short() -> None:
    from autoskillit_trace.agents.claude import tool_input_text

    assert tool_input_text({"command": "ls  -l\n/tmp", "description": "list"}) == "ls -l /tmp"
    assert tool_input_text({"file_path": "/a/b.py", "content": "x"}) == "/a/b.py"
    assert tool_input_text({"unknown": 3, "other": "text"}) == "text"
    assert tool_input_text(None) is None
    long = tool_input_text({"command": "x" * 300})
    assert long is not None and len(long) == 200 and long.endswith("…")


SUBAGENT_CALL = {"agent": "Bash", "turn": 1, "subagent_type": "general-purpose"}


def test_subagent_messages_belong_to_the_launching_turn() -> None:
    parser, events = replay("claude_subagent.jsonl")
    invoked = [e.fields for e in events if e.event == "agent_invoked"]
    assert invoked == [
        {"agent": "Agent", "turn": 1, "subagent_type": "general-purpose"},
        {**SUBAGENT_CALL, "parent_tool_use_id": "toolu_fake002_1"},
        {**SUBAGENT_CALL, "parent_tool_use_id": "toolu_fake002_1"},
    ]
    assert [e.fields["turn"] for e in events if e.event == "turn_start"] == [1, 2]
    assert parser.summary_fields()["tool_calls"] == {"Agent": 1, "Bash": 2}


def test_max_turns_counts_the_refused_turn() -> None:
    parser, events = replay("claude_max_turns.jsonl", max_turns=1)
    assert parser.turns == 2 == parser.summary_fields()["num_turns"]
    last = [e for e in events if e.event == "turn_complete"][-1]
    assert last.fields["success"] is False
    errors = [e.fields["error_type"] for e in events if e.event == "error"]
    assert errors == ["tool_error", "error_max_turns"]


def test_stream_without_result() -> None:
    parser, events = replay("claude_api_retry_no_result.jsonl")
    assert [(e.event, e.fields.get("error_type")) for e in events] == [
        ("turn_start", None),
        *[("retry", None)] * 7,
        ("error", "no_result"),
        ("turn_complete", None),
    ]
    assert events[-1].fields["success"] is False
    assert parser.summary_fields()["cli_subtype"] is None


def test_a_cut_stream_fails_its_turn_without_a_no_result_error() -> None:
    parser = StreamParser()
    first = (FIXTURES / "claude_tool_error.jsonl").read_bytes().splitlines()[0]
    parser.feed(first, 1.0)
    events = parser.finish(5.0, cut=True)
    assert [(e.event, e.fields.get("success")) for e in events] == [("turn_complete", False)]


def test_split_assistant_lines_are_one_turn() -> None:
    """The CLI prints one line per content block, all with the same message id."""
    parser = StreamParser()
    lines = [
        {"type": "system", "subtype": "init", "session_id": "s"},
        {"type": "assistant", "message": {"id": "m1", "content": [{"type": "text"}]}},
        {"type": "assistant", "message": {"id": "m1", "content": [{"type": "text"}]}},
        {"type": "assistant", "message": {"id": "m2", "content": []}},
    ]
    for i, line in enumerate(lines):
        parser.feed(json.dumps(line).encode(), float(i))
    assert parser.turns == 2  # m2 without tool results in between: a new turn all the same


def test_non_json_and_unknown_lines_are_ignored() -> None:
    parser = StreamParser()
    for line in (b"", b"hello", b"{", b"[1,2]", b'{"type": "weird"}', b"\xff\xfe{", b"{}"):
        assert parser.feed(line, 0.0) == []
    assert parser.finish(1.0) == []  # nothing agent-like was seen: no missing-result error
    assert parser.summary_fields()["agent_turns"] is None


def test_max_turns_from_argv() -> None:
    assert max_turns_from_argv(["claude", "-p", "x", "--max-turns", "7"]) == 7
    assert max_turns_from_argv(["claude", "--max-turns=3"]) == 3
    assert max_turns_from_argv(["claude", "--max-turns", "many"]) is None
    assert max_turns_from_argv(["claude"]) is None


# -- arbitrary input never breaks it -----------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
keys = st.sampled_from(
    ["type", "subtype", "message", "content", "id", "parent_tool_use_id", "is_error", "error"]
)
stream_like = st.dictionaries(
    keys,
    st.sampled_from(["system", "init", "assistant", "user", "result", "tool_use", "tool_result"])
    | json_values,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200) | stream_like.map(lambda d: json.dumps(d).encode())))
def test_any_lines_never_raise(lines: list[bytes]) -> None:
    parser = StreamParser()
    for i, line in enumerate(lines):
        parser.feed(line, float(i))
    parser.finish(float(len(lines)))
    json.dumps(parser.summary_fields())


def test_the_registry_opens_a_parser_that_knows_the_max_turns() -> None:
    parser = open_stream("auto", ["/usr/bin/claude", "-p", "x", "--max-turns", "3"])
    assert isinstance(parser, StreamParser) and parser.needle == b'"type"'
    first = (FIXTURES / "claude_tool_error.jsonl").read_bytes().splitlines()[0]
    assert shape(parser.feed(first, 0.0)) == [
        ("INFO", "turn_start", {"turn": 1, "phase": "executing", "max_turns": 3})
    ]


# -- Claude Code 2.1.332 -------------------------------------------------------------


def test_the_cli_and_its_version_from_the_init_line() -> None:
    parser, _ = replay("claude_2.1.332_two_tools.jsonl")
    fields = parser.summary_fields()
    assert (fields["cli"], fields["cli_version"]) == ("claude", "2.1.332")
    assert fields["terminal_reason"] == "completed"
    assert fields["api_retries"] == 0 and fields["permission_denials"] == 0
    assert fields["tool_calls"] == {"Bash": 2} and fields["num_turns"] == 3


def test_api_retries_are_retry_events() -> None:
    parser, events = replay("claude_2.1.332_api_retry.jsonl")
    retries = [e for e in events if e.event == "retry"]
    assert [(e.level, e.fields) for e in retries] == [
        (
            "WARNING",
            {
                "turn": 1,
                "attempt": n,
                "max_retries": 10,
                "error": "overloaded",
                "error_status": 529,
                "delay_ms": delay,
            },
        )
        for n, delay in ((1, 572), (2, 1061))
    ]
    assert parser.summary_fields()["api_retries"] == 2
    assert not [e for e in events if e.event == "error"]  # the run went on and succeeded


def test_unauthorized_after_its_retries() -> None:
    parser, events = replay("claude_2.1.332_unauthorized.jsonl")
    assert [(e.event, e.fields.get("error_type")) for e in events] == [
        ("turn_start", None),
        ("retry", None),
        ("error", "authentication_failed"),
        ("error", "result_is_error"),
        ("turn_complete", None),
    ]
    fields = parser.summary_fields()
    assert fields["is_error"] is True and fields["terminal_reason"] == "api_error"
    assert fields["api_retries"] == 1


def test_a_permission_denial_is_an_error_and_counted() -> None:
    parser, events = replay("claude_2.1.332_permission_denied.jsonl")
    errors = [e.fields for e in events if e.event == "error"]
    assert [(e["turn"], e["error_type"]) for e in errors] == [
        (2, "permission_denied"),
        (2, "tool_error"),
    ]
    assert errors[0]["message"].startswith("Bash: Output redirection to ")
    fields = parser.summary_fields()
    assert fields["permission_denials"] == 1  # the line and the result name the same call
    assert fields["tool_error_count"] == 1 and fields["is_error"] is False


def test_two_results_add_up_and_the_last_decides() -> None:
    """A background subagent: its answer comes with a second init and a second result."""
    parser, events = replay("claude_2.1.332_background_subagent.jsonl")
    first, last = parser.results
    fields = parser.summary_fields()
    assert fields["num_turns"] == first["num_turns"] + last["num_turns"] == 3 == parser.turns
    assert fields["input_tokens"] == first["usage"]["input_tokens"] + last["usage"]["input_tokens"]
    assert fields["total_cost_usd"] == last["total_cost_usd"]  # the CLI's running total
    assert fields["is_error"] is False and fields["subagent_tasks"] == 1
    invoked = [e.fields for e in events if e.event == "agent_invoked"]
    launched = invoked[0]
    assert (launched["agent"], launched["turn"], launched["subagent_type"]) == (
        "Agent",
        1,
        "general-purpose",
    )
    for call in invoked[1:]:  # the subagent's calls: under the launching turn
        assert call["turn"] == 1 and call["subagent_type"] == "general-purpose"
        assert call["parent_tool_use_id"] == "toolu_standin0005_1"
    assert [e.fields["turn"] for e in events if e.event == "turn_start"] == [1, 2, 3]


def test_two_results_the_last_one_failing() -> None:
    lines = [
        {"type": "system", "subtype": "init", "session_id": "s"},
        {"type": "assistant", "message": {"id": "m1", "content": []}},
        {"type": "result", "subtype": "success", "is_error": False, "num_turns": 1},
        {"type": "system", "subtype": "init", "session_id": "s"},
        {"type": "assistant", "message": {"id": "m2", "content": []}},
        {"type": "result", "subtype": "error_during_execution", "is_error": True, "num_turns": 1},
    ]
    parser = StreamParser()
    for i, line in enumerate(lines):
        parser.feed(json.dumps(line).encode(), float(i))
    parser.finish(9.0)
    fields = parser.summary_fields()
    assert fields["is_error"] is True and fields["cli_subtype"] == "error_during_execution"
    assert fields["num_turns"] == 2 == fields["agent_turns"]
    assert fields["permission_denials"] is None  # neither result said


def test_a_failed_subagent_task_is_an_error_of_the_launching_turn() -> None:
    lines = [
        {"type": "system", "subtype": "init", "session_id": "s"},
        {
            "type": "assistant",
            "message": {
                "id": "m1",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "Agent", "input": {"prompt": "x"}}
                ],
            },
        },
        {"type": "system", "subtype": "task_started", "task_id": "k", "tool_use_id": "t1",
         "subagent_type": "Explore"},
        {"type": "system", "subtype": "task_notification", "task_id": "k", "tool_use_id": "t1",
         "status": "failed", "summary": "it broke"},
    ]  # fmt: skip
    parser = StreamParser()
    events: list[Event] = []
    for i, line in enumerate(lines):
        events += parser.feed(json.dumps(line).encode(), float(i))
    assert events[-1].fields == {
        "turn": 1,
        "error_type": "subagent_failed",
        "message": "subagent task failed: it broke",
    }
    assert parser.summary_fields()["subagent_tasks"] == 1


def test_a_cut_stream_of_retries() -> None:
    parser, events = replay("claude_2.1.332_overloaded_cut.jsonl")
    assert {e.event for e in events} == {"turn_start", "retry", "error", "turn_complete"}
    assert parser.summary_fields()["api_retries"] == 6


# -- the real CLI against a stand-in Messages API --------------------------------------

needs_claude = pytest.mark.skipif(CLAUDE is None, reason="the Claude Code CLI is not installed")


def run_claude(
    tmp_path: Path,
    script: Script,
    *options: str,
    prompt: str = "Run two commands",
    extra: tuple[str, ...] = (),
    **env: str,
) -> tuple[Traced, list[dict[str, Any]]]:
    """``autoskillit-trace run --agent-events -- claude -p ...`` against a stand-in."""
    with serving(MessagesModel(script)) as api:
        environ, work = agent_env(tmp_path, **claude_env(api.url), **env)
        traced = run_traced(
            tmp_path / "logs",
            claude_argv(prompt, *options),
            extra=("--agent-events", *extra),
            env=environ,
            cwd=work,
            timeout=180,
        )
    return traced, stream_of(traced)


@needs_claude
def test_live_two_bash_commands(tmp_path: Path) -> None:
    traced, stream = run_claude(tmp_path, MODES["tools"], "--allowedTools", "Bash")
    assert traced.proc.returncode == 0, traced.stderr
    outputs = [
        block["content"]
        for line in stream
        if line["type"] == "user"
        for block in line["message"]["content"]
        if block.get("type") == "tool_result"
    ]
    assert outputs == ["first-marker\nLinux", "second-marker\n42"]  # the commands really ran
    (cli_result,) = [line for line in stream if line["type"] == "result"]
    events = traced.session.records("events.jsonl")
    summary = traced.session.summary
    turns = [e["turn"] for e in events if e["event"] == "turn_start"]
    assert summary["num_turns"] == cli_result["num_turns"] == summary["agent_turns"] == len(turns)
    assert summary["tool_calls"] == {"Bash": 2}
    assert [e["agent"] for e in events if e["event"] == "agent_invoked"] == ["Bash", "Bash"]
    assert summary["cli"] == "claude"
    assert summary["cli_version"] == stream[0]["claude_code_version"]
    assert summary["is_error"] is False and summary["api_retries"] == 0
    assert summary["stalled_retrying"] is False


@needs_claude
def test_live_unauthorized(tmp_path: Path) -> None:
    traced, stream = run_claude(tmp_path, MODES["unauthorized"], CLAUDE_CODE_MAX_RETRIES="1")
    assert traced.proc.returncode != 0, traced.stderr
    (cli_result,) = [line for line in stream if line["type"] == "result"]
    assert cli_result["is_error"] is True
    events = traced.session.records("events.jsonl")
    errors = {e["error_type"] for e in events if e["event"] == "error"}
    assert "authentication_failed" in errors
    retries = [line for line in stream if line.get("subtype") == "api_retry"]
    summary = traced.session.summary
    assert (
        summary["api_retries"] == len(retries) == len([e for e in events if e["event"] == "retry"])
    )
    assert summary["is_error"] is True and summary["num_turns"] == cli_result["num_turns"]
    assert summary["exit_code"] == traced.proc.returncode


@needs_claude
def test_live_an_overloaded_api_is_a_stall_while_retrying(tmp_path: Path) -> None:
    """The API answers 529 forever: the CLI retries for minutes; a 1 s idle timeout stops it."""
    traced, stream = run_claude(tmp_path, MODES["overloaded"], extra=("--idle-timeout", "1"))
    assert traced.proc.returncode == 124, traced.stderr
    assert {line.get("subtype") for line in stream} == {"init", "api_retry"}
    summary = traced.session.summary
    assert summary["termination_reason"] == "idle_stall"
    assert summary["stalled_retrying"] is True
    assert summary["api_retries"] == len(stream) - 1


@needs_claude
def test_live_a_refused_command(tmp_path: Path) -> None:
    """Writing a file needs a permission that ``-p`` without --allowedTools does not give."""
    traced, stream = run_claude(tmp_path, MODES["write"], prompt="WRITE two commands")
    assert traced.proc.returncode == 0, traced.stderr
    assert not (tmp_path / "work" / "made-by-agent.txt").exists()
    (cli_result,) = [line for line in stream if line["type"] == "result"]
    summary = traced.session.summary
    assert summary["permission_denials"] == len(cli_result["permission_denials"]) == 1
    errors = [e for e in traced.session.records("events.jsonl") if e["event"] == "error"]
    assert "permission_denied" in {e["error_type"] for e in errors}


@needs_claude
def test_live_a_subagent(tmp_path: Path) -> None:
    traced, stream = run_claude(
        tmp_path,
        MODES["tools"],
        "--allowedTools",
        "Bash",
        "Agent",
        "Task",
        prompt="SUBAGENT please",
    )
    assert traced.proc.returncode == 0, traced.stderr
    results = [line for line in stream if line["type"] == "result"]
    summary = traced.session.summary
    cli_turns = sum(result["num_turns"] for result in results)
    assert summary["num_turns"] == cli_turns == summary["agent_turns"]
    invoked = [e for e in traced.session.records("events.jsonl") if e["event"] == "agent_invoked"]
    launch, *calls = invoked
    assert launch["agent"] in ("Agent", "Task") and launch["subagent_type"] == "general-purpose"
    assert calls and all(c["agent"] == "Bash" for c in calls)
    for call in calls:  # under the launching turn, named for the subagent
        assert call["turn"] == launch["turn"] and call["subagent_type"] == "general-purpose"
    assert summary["is_error"] is results[-1]["is_error"] is False
