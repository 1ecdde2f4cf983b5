"""The agent's tool calls and the processes behind them (``--agent-events``).

A stream format says which calls are open (``open_calls``) and emits a
``tool_result`` event when one completes.  At each snapshot the session
tells this ledger which calls are open, how many processes were first seen
and the tree's RSS; each ``tool_result`` then gets ``processes_started``
and ``peak_tree_rss_kb`` (both None when no snapshot fell inside the call).
Pure, and flat in memory: figures are kept for open calls only, and the
summary keeps a total per tool name and the five slowest calls.
"""

from __future__ import annotations

from autoskillit_trace.schema import number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

SLOWEST = 5  # calls kept in summary.json's slowest_tool_calls


def tool_name(fields: dict[str, Any]) -> str:
    """The tool an event names (its ``agent`` field); ``unknown`` when it names none."""
    name = fields.get("agent")
    return name if isinstance(name, str) else "unknown"


class ToolCalls:
    """Per open call: processes started and the peak tree RSS; per tool: the time spent."""

    def __init__(self, slowest: int = SLOWEST) -> None:
        self.size = slowest
        self.open: dict[str, list[Any]] = {}  # tool_use_id -> [processes started, peak tree RSS]
        self.time: dict[str, float] = {}  # tool name -> seconds
        self.slowest: list[dict[str, Any]] = []

    def observe(self, calls: Iterable[str], started: int, tree_rss_kb: int | None) -> None:
        """One snapshot while ``calls`` were open: ``started`` processes first seen in it."""
        for call in calls:
            figures = self.open.get(call)
            if figures is None:
                figures = self.open[call] = [0, None]
            figures[0] += started
            if tree_rss_kb is not None and (figures[1] is None or tree_rss_kb > figures[1]):
                figures[1] = tree_rss_kb

    def completed(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A ``tool_result`` event's fields, with what ran under the call added (both None
        when no snapshot fell inside the call: nothing was seen, which is not 0)."""
        call = fields.get("tool_use_id")
        figures = self.open.pop(call, None) if isinstance(call, str) else None
        fields["processes_started"], fields["peak_tree_rss_kb"] = figures or (None, None)
        self.tally(fields)
        return fields

    def tally(self, fields: dict[str, Any]) -> None:
        """Count a completed call (a ``tool_result`` event's fields) in the per-tool time and
        the slowest calls: live, and again from events.jsonl when a crash lost the wrapper."""
        name = tool_name(fields)
        duration = number(fields.get("duration_sec"))  # from a file too: NaN is no duration
        if duration is not None:
            self.time[name] = self.time.get(name, 0.0) + duration
            self._keep(name, duration, fields)

    def _keep(self, name: str, duration: float, fields: dict[str, Any]) -> None:
        kept = self.slowest
        if len(kept) >= self.size and duration <= kept[-1]["duration_sec"]:
            return
        kept.append(
            {
                "name": name,
                "input": fields.get("input"),
                "duration_sec": duration,
                "success": fields.get("success"),
                "peak_tree_rss_kb": fields.get("peak_tree_rss_kb"),
            }
        )
        kept.sort(key=lambda call: -call["duration_sec"])
        del kept[self.size :]

    def summary_fields(self) -> dict[str, Any]:
        """``tool_time_seconds`` by tool name (most first) and ``slowest_tool_calls``."""
        ranked = sorted(self.time.items(), key=lambda item: (-item[1], item[0]))
        return {
            "tool_time_seconds": {name: round(seconds, 3) for name, seconds in ranked},
            "slowest_tool_calls": list(self.slowest),
        }


def tool_summary(events: Iterable[dict[str, Any] | None], stream_read: bool) -> dict[str, Any]:
    """What a crashed session's events.jsonl tells of its agent, as far as it was written
    (cut lines skipped), in the summary's own fields.

    ``tool_time_seconds`` and ``slowest_tool_calls`` from the ``tool_result``
    lines.  When the session read an agent's stream (``stream_read``: its
    start record says ``agent_events``; else such lines are an orchestrator's
    own), ``tool_calls`` (calls per tool) from the ``agent_invoked`` lines and,
    once the stream showed a turn or a call, the counts the live summary has:
    every format writes one ``turn_start`` per turn, one ``agent_invoked`` per
    call and one ``tool_result`` per completed call, ``success`` false when it
    failed (the wrapper's own words: an ``error`` line's ``error_type`` may be
    the CLI's).  Before the first turn or call they stay None, where the live
    summary may say 0.
    """
    calls = ToolCalls()
    by_tool: dict[str, int] = {}
    turns = errors = 0
    for record in events:
        if not isinstance(record, dict):
            continue
        event = record.get("event")
        if event == "tool_result":
            calls.tally(record)
            errors += record.get("success") is False
        elif event == "agent_invoked":
            name = tool_name(record)
            by_tool[name] = by_tool.get(name, 0) + 1
        elif event == "turn_start":
            turns += 1
    fields = calls.summary_fields()
    if not stream_read:
        return fields
    fields["tool_calls"] = dict(sorted(by_tool.items()))
    if turns or by_tool:
        fields.update(
            agent_turns=turns, tool_call_count=sum(by_tool.values()), tool_error_count=errors
        )
    return fields
