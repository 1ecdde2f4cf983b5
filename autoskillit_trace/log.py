"""Structured log lines on stderr, in structlog's style without its import cost.

structlog takes ~60 ms to import here (it pulls in asyncio), more than the whole
start-up budget of ``run``.  This module keeps structlog's shape: an event is a
dict that flows through plain processor callables and ends in a renderer that
produces one line (human key=value on a terminal, JSON lines otherwise).
stdout belongs to the child; nothing here ever writes to it, and a broken
stderr never raises into the caller.
"""

from __future__ import annotations

import os
import sys
import time

from autoskillit_trace.jsonl import make_encoder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping
    from typing import Any, TextIO

    EventDict = MutableMapping[str, Any]
    Processor = Callable[[EventDict], EventDict]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
HELD_LINES = 1000  # lines kept back while the command owns the terminal (see Logger.hold)


class DropEvent(Exception):
    """Raised by a processor to drop the event (as in structlog)."""


def add_timestamp(event: EventDict) -> EventDict:
    """Add an ISO 8601 UTC timestamp with microseconds."""
    from autoskillit_trace.timeutil import iso_utc

    event["timestamp"] = iso_utc(time.time_ns() // 1000)
    return event


def filter_level(minimum: str) -> Processor:
    """Drop events below ``minimum``."""
    floor = LEVELS[minimum]

    def _filter(event: EventDict) -> EventDict:
        if LEVELS.get(event.get("level", "info"), 20) < floor:
            raise DropEvent
        return event

    return _filter


# One JSON line, as ``json.dumps(event, default=str)``.
render_json: Callable[[EventDict], str] = make_encoder(", ", ": ")


def _console_value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in " \t\n\"'="):
        return repr(text)
    return text


def render_console(event: EventDict) -> str:
    """``<timestamp> [level    ] event   key=value ...`` as structlog's ConsoleRenderer."""
    fields = dict(event)
    ts = fields.pop("timestamp", "")
    level = fields.pop("level", "info")
    message = fields.pop("event", "")
    pairs = " ".join(f"{key}={_console_value(value)}" for key, value in fields.items())
    return f"{ts} [{level:<9}] {message:<24} {pairs}".rstrip()


class Logger:
    """A bound logger: ``log.info("session started", pid=1)``."""

    def __init__(
        self,
        processors: list[Processor],
        renderer: Callable[[EventDict], str],
        stream: TextIO | None = None,
    ) -> None:
        self._processors = processors
        self._renderer = renderer
        self._stream = stream
        self._held: list[str] | None = None
        self._dropped = 0

    def hold(self) -> bool:
        """Keep lines back until ``release``: a terminal belongs to the command while it runs.

        At most ``HELD_LINES`` are kept; the rest are counted, and the count is told.
        """
        self._held = []
        self._dropped = 0
        return True

    def release(self) -> None:
        """Write the held lines, then write as they come again."""
        held, self._held = self._held or [], None
        if self._dropped:
            held.append(self._render("warning", "log lines dropped", {"count": self._dropped}))
        if held:
            self._write("".join(held))

    def _render(self, level: str, message: str, fields: dict[str, Any]) -> str:
        """The event's line, or "" when a processor drops it."""
        event: EventDict = {"event": message, "level": level, **fields}
        try:
            for processor in self._processors:
                event = processor(event)
        except DropEvent:
            return ""
        return self._renderer(event) + "\n"

    def _emit(self, level: str, message: str, fields: dict[str, Any]) -> None:
        line = self._render(level, message, fields)
        if not line:
            return
        if self._held is None:
            self._write(line)
        elif len(self._held) < HELD_LINES:
            self._held.append(line)
        else:
            self._dropped += 1

    def _write(self, text: str) -> None:
        try:
            stream = self._stream or sys.stderr
            stream.write(text)
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass  # stderr closed, full, or None (2>&-): logging must never hurt the command

    def debug(self, message: str, **fields: Any) -> None:
        self._emit("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("error", message, fields)


def make_logger(fmt: str = "auto", quiet: bool = False, stream: TextIO | None = None) -> Logger:
    """Console lines on a terminal, JSON lines otherwise; ``quiet`` keeps errors only."""
    if fmt == "auto":
        try:
            fmt = "console" if os.isatty((stream or sys.stderr).fileno()) else "json"
        except (OSError, ValueError, AttributeError):
            fmt = "json"
    processors: list[Processor] = [filter_level("error" if quiet else "info"), add_timestamp]
    renderer = render_console if fmt == "console" else render_json
    return Logger(processors, renderer, stream)
