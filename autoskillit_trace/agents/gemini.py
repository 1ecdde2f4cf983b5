"""The Gemini CLI's ``stream-json`` (``gemini -p ... --output-format stream-json``).

A stream format (see ``agents``): pure logic, no I/O but the CLI's version,
read once from its installed ``package.json`` when the summary is made.  The
stream has six line types: ``init{session_id, model}``, ``message{role,
content}``, ``tool_use{tool_name, tool_id, parameters}``,
``tool_result{tool_id, status, output, error}``, ``error{severity, message}``
and ``result{status, error, stats}``.

Turns.  The CLI names none; a turn is one request to the model and what the
CLI does with its answer, as the CLI's own loop counts them:

- turn 1 starts at ``init`` (the request goes out right after it);
- once every tool call of a turn has its result, the CLI sends the results
  back: the next model message or tool call starts the next turn (and so
  does a failed ``result``, the answer to that request being the failure);
- the last turn ends at the ``result`` line, or when the stream ends.

A turn fails when the result says ``status: error`` on it, or when it was
cut.  A failed tool call is an ``error`` event and a failed ``tool_result``,
but does not fail the turn: the model sees it and goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autoskillit_trace.agents import Event
from autoskillit_trace.agents.stream import (
    STREAM_NEEDLE,
    Call,
    Turn,
    TurnLog,
    clip_dots,
    input_text,
    int_or_none,
    json_object,
    tool_result,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from autoskillit_trace.agents import StreamFormat

CLI = "gemini"
PACKAGE = "@google/gemini-cli"
# The parameter that says what a call did, by the CLI's tool parameter names.
INPUT_KEYS = (
    "command",
    "file_path",
    "absolute_path",
    "dir_path",
    "path",
    "pattern",
    "query",
    "url",
)


def claims(record: dict[str, Any]) -> bool:
    """A Gemini CLI line: ``init`` with a session id and a model, and no ``subtype``."""
    return (
        record.get("type") == "init"
        and "subtype" not in record
        and isinstance(record.get("session_id"), str)
        and "model" in record
    )


def for_command(argv: list[str]) -> StreamFormat:
    """The parser of a ``gemini`` command's stream; the CLI's version from its install.

    The install is looked at when the summary is made, not here: this runs
    before the command starts, and a lookup along $PATH would delay it.
    """
    return StreamParser(command=argv[0] if argv else None)


def installed_version(command: str) -> str | None:
    """The version in the ``package.json`` of the Gemini CLI that ``command`` runs, if found."""
    import os
    import shutil

    try:
        found = shutil.which(command)
        if found is None:
            return None
        folder = os.path.dirname(os.path.realpath(found))
        for _ in range(4):  # bundle/gemini.js, dist/index.js: the package is a level or two up
            path = os.path.join(folder, "package.json")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    package = json.load(f)
                if isinstance(package, dict) and package.get("name") == PACKAGE:
                    version = package.get("version")
                    return version if isinstance(version, str) else None
            folder = os.path.dirname(folder)
    except (OSError, ValueError):
        return None
    return None


def _as_json(parameters: dict[str, Any]) -> str:
    """A call without a known parameter: all of them, as the CLI sent them."""
    return json.dumps(parameters, separators=(",", ":"))


def call_input(parameters: object) -> str | None:
    """What a tool call did, in at most ``INPUT_LIMIT`` characters: its command, path, query..."""
    return input_text(parameters, INPUT_KEYS, _as_json)


@dataclass
class StreamParser(TurnLog[Turn]):
    """Turns, tool calls and errors of one Gemini CLI session, from its stream-json lines."""

    needle = STREAM_NEEDLE
    cli_version: str | None = None  # found from ``command`` at the summary, if not given
    command: str | None = None
    session_id: str | None = None
    model: str | None = None
    result: dict[str, Any] | None = None
    _round_done: bool = False  # every call of the turn has its result: the next line opens one

    def feed(self, line: bytes, now: float) -> list[Event]:
        """Events for one complete line of the child's stdout (without its newline)."""
        record = json_object(line)
        if record is None or not isinstance(record.get("type"), str):
            return []
        handler = {
            "init": self._init,
            "message": self._message,
            "tool_use": self._tool_use,
            "tool_result": self._tool_result,
            "error": self._cli_error,
            "result": self._result,
        }.get(record["type"])
        out: list[Event] = []
        if handler is not None:
            self.stream_seen = True
            handler(record, now, out)
        return out

    def finish(self, now: float, cut: bool = False) -> list[Event]:
        """Events at the end of the stream: open calls and the open turn close, failed."""
        out: list[Event] = []
        if not self.stream_seen:
            return out
        for tool_id in list(self._calls):
            self._complete(tool_id, now, False, "the stream ended before its result", out)
        if self.result is None and not cut:
            message = "the agent's stream ended without a result"
            out.append(self._error("no_result", message))
        if self._turn is not None:
            self._close(now, out, failed=True)
        return out

    # -- line types ------------------------------------------------------------

    def _init(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        if self.session_id is None and isinstance(record.get("session_id"), str):
            self.session_id = record["session_id"]
        if self.model is None and isinstance(record.get("model"), str):
            self.model = record["model"]
        if self._turn is None and self.turns == 0:
            self._open(now, out)

    def _message(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        if record.get("role") == "assistant":
            self._model_speaks(now, out)

    def _tool_use(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        turn = self._model_speaks(now, out)
        name = record.get("tool_name")
        name = name if isinstance(name, str) else "unknown"
        tool_id = record.get("tool_id")
        if isinstance(tool_id, str):
            self._calls[tool_id] = Call(name, turn, now, call_input(record.get("parameters")))
        self.tool_calls[name] += 1
        out.append(Event("INFO", "agent_invoked", {"agent": name, "turn": turn}))

    def _tool_result(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        tool_id = record.get("tool_id")
        if not isinstance(tool_id, str) or tool_id not in self._calls:
            return
        success = record.get("status") == "success"
        error = record.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        self._complete(tool_id, now, success, message if isinstance(message, str) else None, out)
        if not self._calls:
            self._round_done = True

    def _cli_error(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        severity = record.get("severity")
        severity = severity if severity in ("error", "warning") else "error"
        message = record.get("message")
        text = message if isinstance(message, str) and message else f"the CLI's {severity}"
        event = self._error(f"cli_{severity}", text)
        if severity == "warning":
            event.level = "WARNING"
        out.append(event)

    def _result(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        self.result = record
        failed = record.get("status") == "error"
        if failed:
            if self._round_done:  # the request that sent the tool results failed
                self._model_speaks(now, out)
            error = record.get("error")
            error = error if isinstance(error, dict) else {}
            kind, message = error.get("type"), error.get("message")
            kind = kind if isinstance(kind, str) and kind != "unknown" else "result_error"
            text = message if isinstance(message, str) and message else "the agent ended with error"
            out.append(self._error(kind, text))
        if self._turn is not None:
            self._close(now, out, failed=failed)

    # -- turns and calls -------------------------------------------------------

    def _model_speaks(self, now: float, out: list[Event]) -> int:
        """The turn a model message belongs to: a new one after a completed tool round."""
        if self._turn is None or self._round_done:
            if self._turn is not None:
                self._close(now, out)
            self._open(now, out)
        assert self._turn is not None
        return self._turn.number

    def _new_turn(self, number: int, now: float) -> Turn:
        return Turn(number, now)

    def _open(self, now: float, out: list[Event]) -> Turn:
        self._round_done = False
        return super()._open(now, out)

    def _complete(
        self, tool_id: str, now: float, success: bool, message: str | None, out: list[Event]
    ) -> None:
        """A tool call's ``tool_result`` event; a failed call is an ``error`` event too."""
        call = self._calls.pop(tool_id)
        out.append(tool_result(tool_id, call, now, success))
        if not success:
            self.tool_errors += 1
            text = f"{call.name}: {message}" if message else f"{call.name} failed"
            event = self._error("tool_error", text)
            event.fields["turn"] = call.turn
            out.append(event)

    def _error(self, error_type: str, message: str) -> Event:
        message = clip_dots(message)
        return Event(
            "ERROR",
            "error",
            {"turn": self.current_turn, "error_type": error_type, "message": message},
        )

    # -- summary ---------------------------------------------------------------

    def _cli_version(self) -> str | None:
        if self.cli_version is None and self.command is not None:
            self.cli_version = installed_version(self.command)
        return self.cli_version

    def summary_fields(self) -> dict[str, Any]:
        """What the CLI reported, for summary.json (None where it said nothing)."""
        result = self.result or {}
        stats = result.get("stats") if isinstance(result.get("stats"), dict) else {}
        assert isinstance(stats, dict)
        status = result.get("status")
        seen = self.stream_seen
        return {
            "agent_session_id": self.session_id,
            "cli_subtype": status if isinstance(status, str) else None,
            "is_error": status == "error" if isinstance(status, str) else None,
            "num_turns": None,  # the CLI does not count them
            "agent_turns": self.turns if seen else None,
            "total_cost_usd": None,
            "input_tokens": int_or_none(stats.get("input_tokens")),
            "output_tokens": int_or_none(stats.get("output_tokens")),
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": int_or_none(stats.get("cached")),
            "tool_call_count": sum(self.tool_calls.values()) if seen else None,
            "tool_error_count": self.tool_errors if seen else None,
            "tool_calls": dict(sorted(self.tool_calls.items())),
            "cli": CLI,
            "cli_version": self._cli_version(),
            "model": self.model,
            "cli_tool_calls": int_or_none(stats.get("tool_calls")),
            "cli_duration_ms": int_or_none(stats.get("duration_ms")),
        }
