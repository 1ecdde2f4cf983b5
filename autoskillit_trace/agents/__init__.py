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
# else the one whose ``claims()`` the stream's first JSON lines satisfy
# (``Detector``), else ``FALLBACK``.
FORMATS: dict[str, str] = {
    "claude": "claude",  # Claude Code: claude -p ... --output-format stream-json --verbose
    "codex": "codex",  # Codex: codex exec --json ... </dev/null
    "copilot": "copilot",  # Copilot CLI: copilot -p ... --output-format json
    "gemini": "gemini",  # Gemini CLI: gemini -p ... --output-format stream-json
}
AUTO = "auto"
FALLBACK = "claude"
# What every format's lines hold (each module's STREAM_NEEDLE, a test checks):
# ``auto`` cuts lines on it before it knows the format, without importing them
# all (their json, dataclasses and typing: ~110M instructions at every start).
NEEDLE: bytes | None = b'"type"'


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


def named_format(argv: Sequence[str], formats: Mapping[str, str] = FORMATS) -> str | None:
    """The format the command is named after (``codex`` for ``/usr/bin/codex``), if any."""
    command = os.path.basename(argv[0]) if argv else ""
    return command if command in formats else None


def format_for(name: str, argv: Sequence[str], formats: Mapping[str, str] = FORMATS) -> str:
    """The format ``name`` means for the command ``argv``: itself, or what ``auto`` finds."""
    if name != AUTO:
        return name
    return named_format(argv, formats) or FALLBACK


def _module(name: str) -> Any:
    from importlib import import_module

    return import_module(f"{__name__}.{FORMATS[name]}")


def _parser(name: str, argv: list[str]) -> StreamFormat:
    for_command: Callable[[list[str]], StreamFormat] = _module(name).for_command
    return for_command(argv)


def open_stream(name: str, argv: list[str]) -> StreamFormat:
    """A parser for the stream of ``argv`` in format ``name`` (``auto`` or one of FORMATS).

    ``auto`` for a command not named after a format: the stream's first JSON
    lines decide (``Detector``).
    """
    if name == AUTO and named_format(argv) is None:
        return Detector(argv)
    return _parser(format_for(name, argv), argv)


DETECT_LINES = 50  # JSON lines read before the fallback is taken


def claims_of(record: dict[str, Any]) -> str | None:
    """The first format (in FORMATS order) whose ``claims()`` takes this JSON line, if any."""
    for name in FORMATS:
        claims = getattr(_module(name), "claims", None)
        if callable(claims) and claims(record):
            return name
    return None


class Detector:
    """A stream whose format its first JSON lines tell, then read by that format's parser.

    Each format module has ``claims(record)``: True for a parsed JSON line
    that is unmistakably its own.  The first format (in FORMATS order) that
    claims one of the first ``DETECT_LINES`` JSON lines reads the stream, the
    lines held until then first; when none does, ``FALLBACK`` reads it.  Only
    JSON object lines are held (no format reads others), so memory is bounded.
    """

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.parser: StreamFormat | None = None
        self._held: list[tuple[bytes, float]] = []
        self.needle = NEEDLE  # the formats are imported when a JSON line comes

    @property
    def current_turn(self) -> int | None:
        return self.parser.current_turn if self.parser is not None else None

    @property
    def open_calls(self) -> dict[str, str]:
        calls = getattr(self.parser, "open_calls", None)
        return dict(calls) if calls else {}

    def feed(self, line: bytes, now: float) -> list[Event]:
        if self.parser is not None:
            return self.parser.feed(line, now)
        from autoskillit_trace.agents.stream import json_object

        record = json_object(line)
        if record is None:
            return []
        self._held.append((line, now))
        name = claims_of(record)
        if name is None and len(self._held) < DETECT_LINES:
            return []
        return self._decide(name or FALLBACK)

    def _decide(self, name: str) -> list[Event]:
        """Read the stream as format ``name`` from now on: the held lines first."""
        parser = self.parser = _parser(name, self.argv)
        held, self._held = self._held, []
        return [event for line, now in held for event in parser.feed(line, now)]

    def finish(self, now: float, cut: bool = False) -> list[Event]:
        """The format's end of the stream; nothing when no JSON line ever came.

        A command that printed no JSON says nothing of any format: loading
        the fallback (its json, dataclasses and typing, ~110M instructions)
        would only cost the wrapper's exit.
        """
        if self.parser is None:
            if not self._held:
                return []
            events = self._decide(FALLBACK)
        else:
            events = []
        assert self.parser is not None
        return events + self.parser.finish(now, cut)

    def summary_fields(self) -> dict[str, Any]:
        """The format's fields; none (all null in the summary) when no JSON line came."""
        if self.parser is None:
            if not self._held:
                return {}
            self._decide(FALLBACK)
        assert self.parser is not None
        return self.parser.summary_fields()


class LineSplitter:
    """Complete lines out of arbitrary chunks, with C-speed splitting and no quadratic copying.

    With a ``needle``, the lines between a chunk's first and last newline are
    only split out when the chunk holds the needle at all: plain output
    (build logs, binary data) costs two ``find`` calls and one ``memmem`` per
    chunk, and is never copied.  Every line that holds the needle is
    returned; some others may be.
    A line longer than ``limit`` is dropped (its bytes were passed through
    already; only parsing is skipped), so memory stays bounded.
    """

    def __init__(self, needle: bytes | None = None, limit: int = 64 << 20) -> None:
        from autoskillit_trace.libc import finder

        self.needle = needle
        self.limit = limit
        self._holds = None if needle is None else finder(needle)
        self._parts: list[bytes] = []
        self._size = 0
        self._dropping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        first_nl = chunk.find(b"\n")
        if first_nl < 0:
            self._keep(chunk)
            return []
        last_nl = chunk.rfind(b"\n")
        if last_nl > first_nl and (self._holds is None or self._holds(chunk)):
            lines = chunk.split(b"\n")  # one pass: the head, every middle line, the rest
            rest = lines.pop()
        else:
            lines = [chunk[:first_nl]]
            rest = chunk[last_nl + 1 :]
        if self._dropping:
            self._dropping = False
            del lines[0]
        elif self._parts:
            self._parts.append(lines[0])
            lines[0] = b"".join(self._parts)
        self._parts = []
        self._size = 0
        self._keep(rest)
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
