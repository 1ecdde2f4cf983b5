"""Agent event streams: what an agent CLI prints becomes events and summary fields.

With ``--agent-events`` the session cuts the command's stdout into lines
(``LineSplitter``) and feeds them to a stream format's parser.  A format is
a module of this package with ``for_command(argv)``, which returns a parser
that follows ``StreamFormat``, and a line in ``FORMATS``; the session, the
summary and the views need nothing else.

``run`` imports this package only with ``--agent-events`` (or to check a
format's name in the settings), and the package itself imports nothing:
``typing`` alone costs ~10 ms, so the protocol is for the type checker.
"""

from __future__ import annotations

import os

from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, Protocol

    class StreamFormat(Protocol):
        """One agent session's stream, read line by line: pure logic, never raises on input."""

        @property
        def needle(self) -> bytes | None:
            """Held by every line the format reads: chunks without it are not cut into lines."""

        @property
        def current_turn(self) -> int | None:
            """The turn under way (a timeout's events name it); None before the first."""

        def feed(self, line: bytes, now: float) -> list[Event]:
            """Events for one complete line of the child's stdout (without its newline)."""

        def finish(self, now: float, cut: bool = False) -> list[Event]:
            """Events at the end of the stream; ``cut``: a limit stopped the session."""

        @property
        def open_calls(self) -> dict[str, str]:
            """tool_use_id -> tool name of the calls started and not completed yet.

            A format emits a ``tool_result`` event when a call completes
            (``agent``, ``tool_use_id``, ``turn``, ``duration_sec``, ``success``,
            ``input``); calls still open at ``finish`` complete there, failed.
            """

        def summary_fields(self) -> dict[str, Any]:
            """What the agent reported, for summary.json: None where it said nothing.

            The names of ``summary.AGENT_FIELDS`` that the format knows, and
            ``tool_calls`` (calls per tool); any other name is the format's own
            and follows them in the summary.
            """


# Stream format name -> its module in this package.  ``auto`` (the default)
# takes the format named as the command (``codex`` for ``/usr/bin/codex``),
# else ``FALLBACK``.
FORMATS: dict[str, str] = {
    "claude": "claude",  # Claude Code: claude -p ... --output-format stream-json --verbose
}
AUTO = "auto"
FALLBACK = "claude"


class Event(Record):
    """One line for events.jsonl: its level, its name and its fields."""

    __slots__ = ("event", "fields", "level")

    def __init__(self, level: str, event: str, fields: dict[str, Any]) -> None:
        self.level = level
        self.event = event
        self.fields = fields


def format_problem(name: str) -> str | None:
    """Why ``name`` names no stream format (one line), or None when it names one."""
    if name == AUTO or name in FORMATS:
        return None
    return f"unknown stream format {name!r} (known: {', '.join((AUTO, *FORMATS))})"


def format_for(name: str, argv: Sequence[str], formats: Mapping[str, str] = FORMATS) -> str:
    """The format ``name`` means for the command ``argv``: itself, or what ``auto`` finds."""
    if name != AUTO:
        return name
    command = os.path.basename(argv[0]) if argv else ""
    return command if command in formats else FALLBACK


def open_stream(name: str, argv: list[str]) -> StreamFormat:
    """A parser for the stream of ``argv`` in format ``name`` (``auto`` or one of FORMATS)."""
    from importlib import import_module

    module = import_module(f"{__name__}.{FORMATS[format_for(name, argv)]}")
    for_command: Callable[[list[str]], StreamFormat] = module.for_command
    return for_command(argv)


class LineSplitter:
    """Complete lines out of arbitrary chunks, with C-speed splitting and no quadratic copying.

    With a ``needle``, the lines between a chunk's first and last newline are
    only split out when the chunk holds the needle at all: plain output
    (build logs, binary data) costs a couple of ``find`` calls per chunk.
    Every line that holds the needle is returned; some others may be.
    A line longer than ``limit`` is dropped (its bytes were passed through
    already; only parsing is skipped), so memory stays bounded.
    """

    def __init__(self, needle: bytes | None = None, limit: int = 64 << 20) -> None:
        self.needle = needle
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._dropping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        first_nl = chunk.find(b"\n")
        if first_nl < 0:
            self._keep(chunk)
            return []
        lines: list[bytes] = []
        head = chunk[:first_nl]
        if self._dropping:
            self._dropping = False
        elif self._parts:
            self._parts.append(head)
            lines.append(b"".join(self._parts))
        else:
            lines.append(head)
        self._parts = []
        self._size = 0
        last_nl = chunk.rfind(b"\n")
        if last_nl > first_nl:
            middle = chunk[first_nl + 1 : last_nl]
            if self.needle is None or self.needle in middle:
                lines.extend(middle.split(b"\n"))
        self._keep(chunk[last_nl + 1 :])
        return lines

    def _keep(self, rest: bytes) -> None:
        """Hold the start of an unfinished line (or skip it, once it is too long)."""
        if not rest or self._dropping:
            return
        self._size += len(rest)
        if self._size > self.limit:
            self._parts = []
            self._size = 0
            self._dropping = True
        else:
            self._parts.append(rest)

    def finish(self) -> list[bytes]:
        """The last line, when the stream ended without a newline."""
        line = b"".join(self._parts)
        self._parts = []
        self._size = 0
        dropped, self._dropping = self._dropping, False
        return [line] if line and not dropped else []
