"""Copilot CLI's JSON stream (``copilot -p ... --output-format json``), as of CLI 1.0.102.

A stream format (see ``agents``): pure logic, no I/O.  Each line is one
session event with a dotted ``type`` and its ``data``.  A turn is one model
round, from ``assistant.turn_start`` to ``assistant.turn_end``; tool calls
are ``tool.execution_start``/``tool.execution_complete`` (``toolCallId``,
``toolName``, ``success``, and for shell tools ``shellExecution.exitCode``:
a command that exited non-zero counts as a failed call, as it does for the
other CLIs).  ``assistant.turn_retry`` says the CLI retries the model call;
a model round that ends without success (``model.call_final_result``) fails
its turn; ``session.error`` is an error.  The closing ``result`` line holds
the session id, the exit code and ``usage`` (premium requests, API and
session durations); Copilot reports no tokens, no cost and no version.
"""

from __future__ import annotations

from typing import Any

from autoskillit_trace.agents import Event
from autoskillit_trace.agents.stream import (
    ProgressStream,
    int_or_none,
    json_object,
    number_or_none,
)

STREAM_NEEDLE = ProgressStream.needle  # every line holds it (format detection reads it)
CLAIMED_PREFIXES = ("session.", "assistant.", "tool.", "user.", "model.", "subagent.")
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
USAGE_KEYS = {  # Copilot's result usage -> the summary's own names
    "premiumRequests": "premium_requests",
    "totalApiDurationMs": "total_api_duration_ms",
    "sessionDurationMs": "session_duration_ms",
}


def claims(record: dict[str, Any]) -> bool:
    """True when a JSON line is unmistakably Copilot's: a dotted session event type."""
    kind = record.get("type")
    return isinstance(kind, str) and kind.startswith(CLAIMED_PREFIXES)


def for_command(argv: list[str]) -> StreamParser:
    """The parser of a ``copilot -p ... --output-format json`` command's stream."""
    return StreamParser()


def _failed_why(data: dict[str, Any]) -> str | None:
    """Why a completed tool call failed, or None when it succeeded."""
    shell = data.get("shellExecution")
    exit_code = shell.get("exitCode") if isinstance(shell, dict) else None
    if data.get("success") is True and exit_code in (None, 0):
        return None
    result, error = data.get("result"), data.get("error")
    for holder in (error, result):
        if isinstance(holder, dict):
            for key in ("message", "content"):
                if isinstance(holder.get(key), str) and holder[key]:
                    return str(holder[key])
    return f"exit code {exit_code}" if isinstance(exit_code, int) else "failed"


class StreamParser(ProgressStream):
    """Turns, tool calls, retries and errors of one ``copilot --output-format json`` session."""

    def __init__(self) -> None:
        super().__init__()
        self.result: dict[str, Any] | None = None
        self._turn_retries = 0

    def ended(self) -> bool:
        return self.result is not None

    def feed(self, line: bytes, now: float) -> list[Event]:
        """Events for one complete line of the child's stdout (without its newline)."""
        record = json_object(line)
        if record is None or (not claims(record) and record.get("type") != "result"):
            return []
        self.stream_seen = True
        kind = record["type"]
        data = record.get("data")
        data = data if isinstance(data, dict) else {}
        out: list[Event] = []
        progress = self.progress
        if kind == "assistant.turn_start":
            self._turn_retries = 0
            progress.start_turn(now, out)
        elif kind == "assistant.turn_end":
            progress.end_turn(now, out)
        elif kind == "assistant.turn_retry":
            self._turn_retries += 1
            reason = data.get("reason")
            fields = {"attempt": self._turn_retries, "error": str(reason) if reason else None}
            progress.retry(fields, out)
        elif kind == "model.call_final_result" and data.get("result") not in (None, "success"):
            progress.turn_failed = True
        elif kind == "tool.execution_start":
            self._tool_start(data, now, out)
        elif kind == "tool.execution_complete":
            call_id = data.get("toolCallId")
            if isinstance(call_id, str):
                why = _failed_why(data)
                progress.end_call(call_id, now, why is None, out, why or "")
        elif kind == "session.error":
            error_type, message = data.get("errorType"), data.get("message")
            progress.error(str(error_type or "session_error"), str(message or error_type), out)
        elif kind == "result":
            self._result(record, out)
        return out

    def _tool_start(self, data: dict[str, Any], now: float, out: list[Event]) -> None:
        call_id, name = data.get("toolCallId"), data.get("toolName")
        if isinstance(call_id, str):
            name = name if isinstance(name, str) else "unknown"
            self.progress.start_call(call_id, name, data.get("arguments"), now, out)

    def _result(self, record: dict[str, Any], out: list[Event]) -> None:
        self.result = record
        exit_code = int_or_none(record.get("exitCode"))
        if exit_code and not self.progress.errors:
            self.progress.error(
                "result_is_error", f"the agent ended with exit code {exit_code}", out
            )

    def summary_fields(self) -> dict[str, Any]:
        """What Copilot reported, for summary.json: its exit code and usage, no tokens."""
        result = self.result or {}
        session_id = result.get("sessionId")
        exit_code = int_or_none(result.get("exitCode"))
        usage = result.get("usage") if isinstance(result.get("usage"), dict) else {}
        assert isinstance(usage, dict)
        return {
            "agent_session_id": session_id if isinstance(session_id, str) else None,
            "cli_subtype": None,
            "is_error": None if exit_code is None else exit_code != 0,
            "num_turns": None,
            "total_cost_usd": None,
            **dict.fromkeys(TOKEN_FIELDS),  # Copilot reports none
            **self.counted_fields(),
            "cli": "copilot",
            "cli_version": None,
            "cli_exit_code": exit_code,
            **{ours: number_or_none(usage.get(theirs)) for theirs, ours in USAGE_KEYS.items()},
        }
