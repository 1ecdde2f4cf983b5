"""The agent's timeline, read from events.jsonl onto the session's clock.

Turns are spans (``turn_start`` to ``turn_complete``), tool calls bars
(``tool_result``: its time less ``duration_sec`` to its time) or, in a log
without ``tool_result``, marks at each ``agent_invoked``; errors, retries and
limits are marks.  Times are seconds since the session started, the x of the
resource charts.  Pure: events in, a Lane out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autoskillit_trace.schema import number
from autoskillit_trace.timeutil import parse_iso

MARK_EVENTS = ("error", "retry", "timeout")
# What a tool call's hover tells, beyond its name and times.
TOOL_DETAILS = ("tool_use_id", "turn", "success", "processes_started", "peak_tree_rss_kb", "input")


@dataclass(frozen=True)
class Span:
    """A turn or a tool call: from ``start`` to ``end`` seconds; ``end`` None: still open."""

    label: str
    start: float
    end: float | None
    success: bool | None = None
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Mark:
    """An instant: an error, a retry, a limit, or a tool call whose end is not known."""

    kind: str
    at: float
    label: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass
class Lane:
    turns: list[Span] = field(default_factory=list)
    tools: list[Span] = field(default_factory=list)  # tool_result events: calls with durations
    invoked: list[Mark] = field(default_factory=list)  # agent_invoked: when a call began
    marks: list[Mark] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.turns or self.tools or self.invoked or self.marks)

    @property
    def calls(self) -> list[Span | Mark]:
        """The tool calls to draw: bars where tool_result was logged, else the invocations."""
        return list(self.tools) if self.tools else list(self.invoked)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, default=str)


def _details(record: dict[str, Any], keys: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, _text(record[k])) for k in keys if record.get(k) is not None)


def _float(value: Any) -> float | None:
    found = number(value)
    return None if found is None else float(found)


def build_lane(events: Iterable[dict[str, Any] | None], start: float) -> Lane:
    """The lane of the events (epoch ``start`` is the session's t=0); unknown events are skipped."""
    lane = Lane()
    open_turns: dict[str, float] = {}
    for record in events:
        if record is None:
            continue
        when = parse_iso(record["timestamp"]) if isinstance(record.get("timestamp"), str) else None
        if when is None:
            continue
        at = round(when - start, 6)
        _take(lane, open_turns, record, at)
    for turn, began in open_turns.items():
        lane.turns.append(Span(f"turn {turn}", began, None))
    lane.turns.sort(key=lambda span: span.start)
    return lane


def _take(lane: Lane, open_turns: dict[str, float], record: dict[str, Any], at: float) -> None:
    event = record.get("event")
    if event == "turn_start":
        open_turns[_text(record.get("turn"))] = at  # as text: any JSON value can be written
    elif event == "turn_complete":
        turn = _text(record.get("turn"))
        duration = _float(record.get("duration_sec"))
        began = open_turns.pop(turn, None)
        if began is None:
            began = at - duration if duration is not None else at
        success = record.get("success")
        lane.turns.append(
            Span(f"turn {turn}", began, at, success if isinstance(success, bool) else None)
        )
    elif event == "tool_result":
        duration = _float(record.get("duration_sec")) or 0.0
        success = record.get("success")
        lane.tools.append(
            Span(
                _text(record.get("agent", "tool")),
                max(at - duration, 0.0),
                at,
                success if isinstance(success, bool) else None,
                _details(record, TOOL_DETAILS),
            )
        )
    elif event == "agent_invoked":
        name = _text(record.get("agent", "tool"))
        details = _details(record, ("turn", "subagent_type", "parent_tool_use_id"))
        lane.invoked.append(Mark("tool", at, name, details))
    elif event in MARK_EVENTS:
        keys = [k for k in record if k not in ("timestamp", "level", "event")]
        label = _text(record.get("error_type") or record.get("reason") or event)
        lane.marks.append(Mark(str(event), at, label, _details(record, keys)))
