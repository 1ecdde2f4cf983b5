"""Claude Code's stream-json, on streams captured from the real CLI (see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.agents import Event, open_stream
from autoskillit_trace.agents.claude import StreamParser, max_turns_from_argv

FIXTURES = Path(__file__).with_name("fixtures")
CAPTURED = sorted(FIXTURES.glob("claude_*.jsonl"))


def replay(name: str, max_turns: int | None = None) -> tuple[StreamParser, list[Event]]:
    """Feed a captured stream, one second per line; then end it."""
    parser = StreamParser(max_turns=max_turns)
    events: list[Event] = []
    now = 0.0
    for line in (FIXTURES / name).read_bytes().splitlines():
        now += 1.0
        events += parser.feed(line, now)
    events += parser.finish(now + 1.0)
    return parser, events


def shape(events: list[Event]) -> list[tuple[Any, ...]]:
    """Events without their timing."""
    out: list[tuple[Any, ...]] = []
    for e in events:
        fields = {k: v for k, v in e.fields.items() if k != "duration_sec"}
        out.append((e.level, e.event, fields))
    return out


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_turn_count_agrees_with_the_cli(path: Path) -> None:
    parser, _ = replay(path.name)
    result = parser.result
    if result is None:
        pytest.skip("this capture has no result line")
    assert parser.turns == result["num_turns"]
    assert parser.summary_fields()["agent_turns"] == result["num_turns"]


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


def test_subagent_messages_belong_to_the_launching_turn() -> None:
    parser, events = replay("claude_subagent.jsonl")
    invoked = [e.fields for e in events if e.event == "agent_invoked"]
    assert invoked == [
        {"agent": "Agent", "turn": 1, "subagent_type": "general-purpose"},
        {"agent": "Bash", "turn": 1, "parent_tool_use_id": "toolu_fake002_1"},
        {"agent": "Bash", "turn": 1, "parent_tool_use_id": "toolu_fake002_1"},
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
