"""Claude Code's stream-json, on streams captured from the real CLI (see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import event_shape as shape
from helpers import replay as replay_stream
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.agents import Event, open_stream
from autoskillit_trace.agents.claude import StreamParser, max_turns_from_argv

FIXTURES = Path(__file__).with_name("fixtures")
CAPTURED = sorted(FIXTURES.glob("claude_*.jsonl"))


def replay(name: str, max_turns: int | None = None) -> tuple[StreamParser, list[Event]]:
    """Feed a captured stream, one second per line; then end it."""
    parser = StreamParser(max_turns=max_turns)
    return parser, replay_stream(parser, FIXTURES / name)


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
