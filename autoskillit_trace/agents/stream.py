"""What the stream formats share: reading a JSON line, turns, tool calls and their events.

A format reads its CLI's own words and tells these helpers what happened
("a turn started", "call X of tool Y started", "call X ended, failed"); they
number the turns, time the calls and build the events, so that every format
writes the same ``turn_start``, ``turn_complete``, ``agent_invoked`` and
``tool_result`` lines.  Pure logic, no I/O.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from autoskillit_trace.agents import Event

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

STREAM_NEEDLE = b'"type"'  # every line of the JSON streams holds it
AGENT_PHASE = "executing"  # the phase of turns read from the stream
MESSAGE_LIMIT = 500  # characters of error text kept in an event
INPUT_LIMIT = 200  # characters of a tool call's input kept in its tool_result
INPUT_KEYS = ("command", "cmd", "file_path", "path", "pattern", "query", "url", "prompt")


def json_object(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None when it holds something else."""
    stripped = line.strip()
    if not stripped.startswith(b"{"):
        return None
    try:
        record = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def clip(text: str, limit: int = MESSAGE_LIMIT, ellipsis: str = "…") -> str:
    """``text`` on one line, cut to ``limit`` characters ending in ``ellipsis``."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis


def clip_dots(text: str) -> str:
    """``clip`` ending in ``...``: how the Claude Code and Gemini CLI formats cut error text."""
    return clip(text, MESSAGE_LIMIT, "...")


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number_or_none(value: object) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def input_text(
    arguments: object,
    keys: tuple[str, ...] = INPUT_KEYS,
    otherwise: Callable[[dict[str, Any]], str] | None = None,
) -> str | None:
    """What a tool call did, in a few words: the first of ``keys`` that holds text
    (its command, path, query or URL; a list of words is joined), else what
    ``otherwise`` makes of the arguments.  None when the call has no arguments.

    Each format passes its CLI's names for these fields, and its own fallback.
    """
    if arguments is None:
        return None
    if isinstance(arguments, dict):
        text = ""
        for key in keys:
            value = arguments.get(key)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = " ".join(value)
            if isinstance(value, str) and value:
                text = value
                break
        else:
            text = otherwise(arguments) if otherwise is not None else ""
    else:
        text = arguments if isinstance(arguments, str) else str(arguments)
    return clip(text, INPUT_LIMIT)


@dataclass
class Call:
    """A tool call from its start to its end: what its ``tool_result`` tells."""

    name: str
    turn: int | None
    started: float
    input: str | None


def turn_start(turn: int, max_turns: int | None) -> Event:
    return Event("INFO", "turn_start", {"turn": turn, "phase": AGENT_PHASE, "max_turns": max_turns})


def turn_complete(turn: int, started: float, now: float, success: bool) -> Event:
    """The ``turn_complete`` event of a turn that began at ``started``: a warning when failed."""
    fields = {"turn": turn, "duration_sec": round(max(0.0, now - started), 2), "success": success}
    return Event("INFO" if success else "WARNING", "turn_complete", fields)


def tool_result(call_id: str, call: Call, now: float, success: bool) -> Event:
    """The ``tool_result`` event of ``call``, ended at ``now``: a warning when it failed."""
    return Event(
        "INFO" if success else "WARNING",
        "tool_result",
        {
            "agent": call.name,
            "tool_use_id": call_id,
            "turn": call.turn,
            "duration_sec": round(max(0.0, now - call.started), 3),
            "success": success,
            "input": call.input,
        },
    )


@dataclass
class Turn:
    """The open turn of a ``TurnLog``: its number, when it began, whether it failed on the way."""

    number: int
    started: float
    failed: bool = False


TurnT = TypeVar("TurnT", bound=Turn)


@dataclass
class TurnLog(Generic[TurnT]):
    """The turns and open tool calls of a parser that keeps them itself (Claude Code, Gemini).

    A subclass makes its turns (``_new_turn``), says when one opens and
    closes (``_open``, ``_close``) and which calls are under way
    (``_calls``); this numbers the turns and writes their events.
    """

    max_turns: int | None = None
    turns: int = 0
    stream_seen: bool = False
    tool_calls: Counter[str] = field(default_factory=Counter)
    tool_errors: int = 0
    _turn: TurnT | None = None
    _calls: dict[str, Call] = field(default_factory=dict)  # started, not completed yet

    @property
    def current_turn(self) -> int | None:
        return self.turns or None

    @property
    def open_calls(self) -> dict[str, str]:
        """tool_use_id -> tool name of the calls under way (the session ties processes to them)."""
        return {tool_id: call.name for tool_id, call in self._calls.items()}

    def _new_turn(self, number: int, now: float) -> TurnT:
        raise NotImplementedError

    def _open(self, now: float, out: list[Event]) -> TurnT:
        self.turns += 1
        self._turn = turn = self._new_turn(self.turns, now)
        out.append(turn_start(self.turns, self.max_turns))
        return turn

    def _close(self, now: float, out: list[Event], failed: bool = False) -> None:
        turn = self._turn
        assert turn is not None
        self._turn = None
        out.append(turn_complete(turn.number, turn.started, now, not (failed or turn.failed)))


@dataclass
class Progress:
    """Turns and tool calls of one agent session, as the format reports them."""

    max_turns: int | None = None
    turns: int = 0
    turn_open: bool = False
    turn_failed: bool = False
    turn_started: float = 0.0
    errors: int = 0
    retries: int = 0
    tool_errors: int = 0
    tool_calls: Counter[str] = field(default_factory=Counter)
    calls: dict[str, Call] = field(default_factory=dict)

    @property
    def current_turn(self) -> int | None:
        return self.turns or None

    @property
    def open_calls(self) -> dict[str, str]:
        """tool_use_id -> tool name of the calls started and not completed yet."""
        return {call_id: call.name for call_id, call in self.calls.items()}

    def start_turn(self, now: float, out: list[Event]) -> None:
        """A new turn (the open one, if any, ends first, as succeeded)."""
        if self.turn_open:
            self.end_turn(now, out)
        self.turns += 1
        self.turn_open = True
        self.turn_failed = False
        self.turn_started = now
        out.append(turn_start(self.turns, self.max_turns))

    def end_turn(self, now: float, out: list[Event], failed: bool = False) -> None:
        """The open turn ends; it failed when ``failed`` or something failed it on the way."""
        if not self.turn_open:
            return
        self.turn_open = False
        success = not (failed or self.turn_failed)
        out.append(turn_complete(self.turns, self.turn_started, now, success))

    def error(self, error_type: str, message: str, out: list[Event], level: str = "ERROR") -> None:
        """An ``error`` event in the current turn; an ERROR fails the turn."""
        self.errors += 1
        if level == "ERROR":
            self.turn_failed = True
        fields = {"turn": self.current_turn, "error_type": error_type, "message": clip(message)}
        out.append(Event(level, "error", fields))

    def retry(self, fields: dict[str, Any], out: list[Event]) -> None:
        """The agent retries its API: a ``retry`` event (attempt, max_retries, error)."""
        self.retries += 1
        out.append(Event("WARNING", "retry", {"turn": self.current_turn, **fields}))

    def start_call(
        self, call_id: str, name: str, arguments: object, now: float, out: list[Event]
    ) -> None:
        """Tool ``name`` was called: an ``agent_invoked`` event, and the call is open."""
        if call_id in self.calls:
            return  # the same call told twice
        turn = self.current_turn
        self.calls[call_id] = Call(name, turn, now, input_text(arguments))
        self.tool_calls[name] += 1
        out.append(Event("INFO", "agent_invoked", {"agent": name, "turn": turn}))

    def end_call(
        self, call_id: str, now: float, success: bool, out: list[Event], why: str = ""
    ) -> None:
        """The call ended: its ``tool_result``, and an ``error`` (``why``) when it failed."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        if not success:
            self.tool_errors += 1
            self.errors += 1
            message = clip(f"{call.name}: {why}" if why else f"{call.name} failed")
            fields = {"turn": call.turn, "error_type": "tool_error", "message": message}
            out.append(Event("ERROR", "error", fields))
        out.append(tool_result(call_id, call, now, success))

    def close(self, now: float, out: list[Event]) -> None:
        """At the end of the stream: open calls end as failed, the open turn too."""
        for call_id in list(self.calls):
            self.end_call(call_id, now, False, out, "still running when the stream ended")
        self.end_turn(now, out, failed=True)


class ProgressStream:
    """What a format's parser built on ``Progress`` has: the protocol's plumbing and its end.

    A subclass reads its lines in ``feed``, sets ``stream_seen`` once a line
    was its own, and says in ``ended()`` whether the CLI told how the
    session ended (its result); ``NO_END`` is the error when it did not.
    """

    needle: bytes | None = STREAM_NEEDLE
    NO_END = "the agent's stream ended without a result"

    def __init__(self) -> None:
        self.progress = Progress()
        self.stream_seen = False

    @property
    def current_turn(self) -> int | None:
        return self.progress.current_turn

    @property
    def open_calls(self) -> dict[str, str]:
        return self.progress.open_calls

    def ended(self) -> bool:
        return False

    def finish(self, now: float, cut: bool = False) -> list[Event]:
        """Events at the end of the stream: no end told is an error; open calls and turn fail."""
        out: list[Event] = []
        if not self.stream_seen:
            return out
        if not self.ended() and not cut:
            self.progress.error("no_result", self.NO_END, out)
        self.progress.close(now, out)
        return out

    def counted_fields(self) -> dict[str, Any]:
        """The summary's counts from the stream: None for each before it said anything."""
        progress, seen = self.progress, self.stream_seen
        return {
            "agent_turns": progress.turns if seen else None,
            "tool_call_count": sum(progress.tool_calls.values()) if seen else None,
            "tool_error_count": progress.tool_errors if seen else None,
            "tool_calls": dict(sorted(progress.tool_calls.items())),
            "api_retries": progress.retries if seen else None,
        }
