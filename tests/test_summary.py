"""The summary record: the agent's part, whatever stream format reported it."""

from __future__ import annotations

import json

from helpers import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.agents.claude import StreamParser
from autoskillit_trace.schema import number
from autoskillit_trace.summary import AGENT_FIELDS, Outcome, Peaks, agent_block, build_summary

START = {"session_id": "s", "dir_name": "s", "pid": 7, "start_ts": "2026-11-22T10:00:00+00:00"}

# The agent's part of summary.json and of the index, in its order: a contract.
AGENT_PART = [
    "agent_session_id", "cli_subtype", "is_error", "num_turns", "agent_turns",
    "total_cost_usd", "input_tokens", "output_tokens", "cache_creation_input_tokens",
    "cache_read_input_tokens", "tool_call_count", "tool_error_count", "tool_calls",
]  # fmt: skip


def summary_of(agent: dict[str, object] | None) -> dict[str, object]:
    outcome = Outcome(0, "success", "exited: code 0", agent=agent)
    return build_summary(START, Peaks(), outcome, {})


def agent_part(summary: dict[str, object]) -> list[str]:
    keys = list(summary)
    return keys[keys.index("signal") + 1 : keys.index("orphan_count")]


def test_without_an_agent_its_fields_are_null() -> None:
    summary = summary_of(None)
    assert agent_part(summary) == AGENT_PART == [*AGENT_FIELDS, "tool_calls"]
    assert all(summary[name] is None for name in AGENT_FIELDS) and summary["tool_calls"] == {}


def test_claude_fills_the_agent_part_in_its_order() -> None:
    parser = StreamParser()
    for line in (FIXTURES / "claude_tool_error.jsonl").read_bytes().splitlines():
        parser.feed(line, 0.0)
    parser.finish(1.0)
    summary = summary_of(parser.summary_fields())
    own = ["cli", "cli_version", "terminal_reason", "api_retries", "permission_denials",
           "subagent_tasks"]  # fmt: skip
    assert agent_part(summary) == [*AGENT_PART, *own]
    assert {name: summary[name] for name in [*AGENT_PART, *own]} == parser.summary_fields()
    json.dumps(summary)


def test_a_format_s_own_fields_follow_and_never_replace_the_summary_s() -> None:
    reported = {"codex_thread": "t1", "agent_turns": 3, "hostname": "spoofed", "success": 0}
    block = agent_block(reported, ({"hostname": "real"}, {"success": True}))
    assert list(block) == [*AGENT_PART, "codex_thread"]
    assert block["agent_turns"] == 3 and block["num_turns"] is None
    summary = summary_of(reported)
    assert summary["success"] is True and summary["hostname"] is None  # START has no hostname
    assert summary["codex_thread"] == "t1"
    assert agent_part(summary) == [*AGENT_PART, "codex_thread"]


ODD_VALUES = [None, True, False, float("nan"), "12", [3], 0, 7, 2.5, -1, 10**20, float("inf")]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["vm_rss_kb", "tree_procs"]), st.sampled_from(ODD_VALUES))
    )
)
def test_peaks_take_what_number_takes(snapshots: list[dict[str, object]]) -> None:
    """The peaks' inline check agrees with schema.number: no bool, text or NaN is a peak."""
    peaks = Peaks()
    for snapshot in snapshots:
        peaks.feed(snapshot)
    for name, source in (("peak_rss_kb", "vm_rss_kb"), ("peak_tree_procs", "tree_procs")):
        taken = [v for v in (number(s.get(source)) for s in snapshots) if v is not None]
        expected = max(taken) if taken else None
        assert peaks.as_fields()[name] == expected
