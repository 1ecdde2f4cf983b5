"""Codex's JSON stream (``codex exec --json ... </dev/null``), as of CLI 0.171.

A stream format (see ``agents``): pure logic, no I/O.  Each line is one
event of the thread: ``thread.started{thread_id}`` (the session id), then
per turn ``turn.started``, ``item.started``/``item.completed`` and
``turn.completed{usage}`` or ``turn.failed{error}``.  A turn is Codex's own:
one prompt, however many model requests and commands it takes.

Tool calls are the items that act: ``command_execution`` (command,
exit_code, status), ``file_change``, ``mcp_tool_call``, ``web_search``;
an item that only arrives completed is a call of no duration.  Top-level
``error`` lines are not always fatal: "Reconnecting... 2/5 (...)" only says
the CLI retries its API (a ``retry`` event); the others are errors, and
``turn.failed`` repeats the last of them (one ``error`` event for both).
``error`` items are the CLI's warnings.  Codex reports tokens, no cost and
no version.
"""

from __future__ import annotations

import re
from typing import Any

from autoskillit_trace.agents import Event
from autoskillit_trace.agents.stream import (
    ProgressStream,
    clip,
    int_or_none,
    json_object,
)

STREAM_NEEDLE = ProgressStream.needle  # every line holds it (format detection reads it)
TOOL_ITEMS = frozenset({"command_execution", "file_change", "mcp_tool_call", "web_search"})
CLAIMED_TYPES = frozenset(
    {
        "thread.started",
        "turn.started",
        "turn.completed",
        "turn.failed",
        "item.started",
        "item.completed",
    }
)
RETRY = re.compile(r"Reconnecting\.\.\.\s*(\d+)/(\d+)\s*(.*)", re.S)
USAGE_KEYS = {  # Codex's usage name -> the summary's
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_write_input_tokens": "cache_creation_input_tokens",
    "cached_input_tokens": "cache_read_input_tokens",
    "reasoning_output_tokens": "reasoning_output_tokens",
}


def claims(record: dict[str, Any]) -> bool:
    """True when a JSON line is unmistakably Codex's: its thread and turn events."""
    return record.get("type") in CLAIMED_TYPES


def for_command(argv: list[str]) -> StreamParser:
    """The parser of a ``codex exec --json`` command's stream."""
    return StreamParser()


def _tool_of(item: dict[str, Any]) -> tuple[str, object]:
    """The tool an item stands for, and what it was asked."""
    kind = str(item.get("type"))
    if kind == "command_execution":
        return kind, item.get("command")
    if kind == "mcp_tool_call":
        server, tool = item.get("server"), item.get("tool")
        name = f"{server}.{tool}" if isinstance(server, str) and isinstance(tool, str) else kind
        return name, item.get("arguments")
    if kind == "file_change":
        changes = item.get("changes")
        paths = (
            [c.get("path") for c in changes if isinstance(c, dict)]
            if isinstance(changes, list)
            else []
        )
        return kind, " ".join(p for p in paths if isinstance(p, str))
    return kind, item.get("query")


def _failed_why(item: dict[str, Any]) -> str | None:
    """Why a completed tool item failed, or None when it succeeded."""
    status = item.get("status")
    exit_code = item.get("exit_code")
    if status != "failed" and exit_code in (None, 0):
        return None
    error = item.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(exit_code, int):
        output = item.get("aggregated_output")
        tail = f": {output}" if isinstance(output, str) and output.strip() else ""
        return f"exit code {exit_code}{tail}"
    return str(status)


class StreamParser(ProgressStream):
    """Turns, tool calls, retries and errors of one ``codex exec --json`` session."""

    NO_END = "the agent's stream ended before a turn did"

    def __init__(self) -> None:
        super().__init__()
        self.thread_id: str | None = None
        self.outcome: str | None = None  # "completed" or "failed": how the last turn ended
        self.usage: dict[str, int] = {}
        self._last_error: str | None = None

    def ended(self) -> bool:
        return self.outcome is not None

    def feed(self, line: bytes, now: float) -> list[Event]:
        """Events for one complete line of the child's stdout (without its newline)."""
        record = json_object(line)
        kind = record.get("type") if record else None
        if record is None or not isinstance(kind, str):
            return []
        out: list[Event] = []
        if kind == "thread.started":
            self.stream_seen = True
            thread_id = record.get("thread_id")
            if isinstance(thread_id, str) and self.thread_id is None:
                self.thread_id = thread_id
        elif kind == "turn.started":
            self.stream_seen = True
            self.progress.start_turn(now, out)
        elif kind == "turn.completed":
            self._turn_completed(record, now, out)
        elif kind == "turn.failed":
            self._turn_failed(record, now, out)
        elif kind == "error":
            self._error(record, out)
        elif kind in ("item.started", "item.completed"):
            item = record.get("item")
            if isinstance(item, dict):
                self._item(item, kind == "item.completed", now, out)
        return out

    def _turn_completed(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        self.stream_seen = True
        self.outcome = "completed"
        usage = record.get("usage")
        if isinstance(usage, dict):
            for theirs, ours in USAGE_KEYS.items():
                value = int_or_none(usage.get(theirs))
                if value is not None:
                    self.usage[ours] = self.usage.get(ours, 0) + value
        self.progress.end_turn(now, out)

    def _turn_failed(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        self.stream_seen = True
        self.outcome = "failed"
        error = record.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        message = message if isinstance(message, str) and message else "the turn failed"
        if message != self._last_error:
            self.progress.error("turn_failed", message, out)
        self.progress.end_turn(now, out, failed=True)

    def _error(self, record: dict[str, Any], out: list[Event]) -> None:
        self.stream_seen = True
        message = record.get("message")
        message = message if isinstance(message, str) else ""
        retry = RETRY.match(message)
        if retry:
            attempt, most, rest = retry.groups()
            error = clip(rest.strip().removeprefix("(").removesuffix(")"))
            fields = {"attempt": int(attempt), "max_retries": int(most), "error": error}
            self.progress.retry(fields, out)
            return
        self._last_error = message
        self.progress.error("stream_error", message or "error", out)

    def _item(self, item: dict[str, Any], completed: bool, now: float, out: list[Event]) -> None:
        self.stream_seen = True
        kind = item.get("type")
        item_id = item.get("id")
        if kind == "error" and completed:
            message = item.get("message")
            self.progress.error("warning", str(message), out, level="WARNING")
            return
        if kind not in TOOL_ITEMS or not isinstance(item_id, str):
            return
        name, arguments = _tool_of(item)
        self.progress.start_call(item_id, name, arguments, now, out)
        if completed:
            why = _failed_why(item)
            self.progress.end_call(item_id, now, why is None, out, why or "")

    def summary_fields(self) -> dict[str, Any]:
        """What Codex reported, for summary.json: tokens, no cost, no turn count of its own."""
        return {
            "agent_session_id": self.thread_id,
            "cli_subtype": self.outcome,
            "is_error": None if self.outcome is None else self.outcome == "failed",
            "num_turns": None,
            "total_cost_usd": None,
            **{ours: self.usage.get(ours) for ours in USAGE_KEYS.values()},
            **self.counted_fields(),
            "cli": "codex",
            "cli_version": None,
        }
