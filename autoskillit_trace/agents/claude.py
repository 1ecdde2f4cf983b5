"""Claude Code's ``stream-json`` (``claude -p ... --output-format stream-json --verbose``).

A stream format (see ``agents``): pure logic, no I/O.  The session feeds it
the complete lines of the child's stdout (``feed(line, now)``) and writes the
events it returns.  Lines that are not JSON objects, or of types it does not
know, are ignored; nothing here raises on input.

Turns.  A turn is one round trip to the model: the model's reply, and the
tool calls it asks for, run by the CLI.  Precisely:

- turn 1 starts at ``system``/``init`` (or at the first top-level assistant
  message when there is no init line);
- a turn ends, and the next one starts, when a top-level ``user`` line brings
  tool results back after the turn's assistant message: the CLI is sending
  them to the model in a new request.  A top-level assistant message with a
  new message id in a turn that already had one also starts a new turn;
- the last turn ends at the ``result`` line, or when the stream ends.

This is how the CLI counts ``num_turns``: a run stopped by ``--max-turns``
reports the turn it refused to start, and so does this count.

A turn succeeds unless its assistant message carries an ``error`` field, it
is the last turn and the result says ``is_error``, or it was cut (the stream
ended without a result, a timeout, a stall).  Failing tool calls are
``error`` events but do not fail the turn: the model sees them and goes on.

Assistant messages arrive split over several lines (one per content block)
with the same message id; messages with a ``parent_tool_use_id`` come from
a subagent and belong to the turn that launched it.

Claude Code 2.1.332 adds, and this reads:

- ``system``/``api_retry``: a ``retry`` event (the session does not count
  these lines as progress for ``--idle-timeout``), ``api_retries``;
- ``system``/``permission_denied``: an ``error`` event, ``permission_denials``;
- ``system``/``task_started`` and ``task_notification``: a subagent task,
  its ``subagent_type`` on its tool calls, an ``error`` when it failed;
- several ``result`` lines in one run (a background subagent's answer
  comes after the first, with a second ``init``): ``num_turns`` and the
  tokens are per result and add up, ``total_cost_usd`` is the running
  total, and the last result decides ``is_error``, ``cli_subtype`` and
  ``terminal_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    number_or_none,
    tool_result,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from autoskillit_trace.agents import StreamFormat

SUBAGENT_TOOLS = frozenset({"Task", "Agent"})
CLI = "claude"
# The input field that says what a call did, per tool; others: their first text field.
INPUT_KEYS = (
    "command", "file_path", "notebook_path", "path", "pattern", "url", "query", "description",
    "prompt",
)  # fmt: skip
USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@dataclass
class _Turn(Turn):
    message_id: object = None
    has_reply: bool = False


def for_command(argv: list[str]) -> StreamFormat:
    """The parser of a ``claude`` command's stream; its ``--max-turns`` goes into the events."""
    return StreamParser(max_turns=max_turns_from_argv(argv))


def max_turns_from_argv(argv: list[str]) -> int | None:
    """The child's ``--max-turns N`` (or ``--max-turns=N``), when it is given."""
    for i, word in enumerate(argv):
        value: str | None = None
        if word == "--max-turns" and i + 1 < len(argv):
            value = argv[i + 1]
        elif word.startswith("--max-turns="):
            value = word.split("=", 1)[1]
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _text_of(content: object) -> str:
    """The text of a message or tool-result content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            block.get("text")
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        ]
        return " ".join(p for p in parts if p)
    return ""


def _total(values: Iterable[object]) -> int | None:
    """The sum of the integers among ``values``; None when there is none."""
    numbers = [n for n in map(int_or_none, values) if n is not None]
    return sum(numbers) if numbers else None


def _first_text(tool_input: dict[str, Any]) -> str:
    """An unknown tool's input: its first text field."""
    return next((value for value in tool_input.values() if isinstance(value, str) and value), "")


def tool_input_text(tool_input: object) -> str | None:
    """What a call did, in short: the shell command, the file path, the query, the URL."""
    return input_text(tool_input, INPUT_KEYS, _first_text)


@dataclass
class StreamParser(TurnLog[_Turn]):
    """Turns, tool calls and errors of one agent session, from its stream-json lines."""

    needle = STREAM_NEEDLE
    session_id: str | None = None
    result: dict[str, Any] | None = None
    errors: int = 0
    cli_version: str | None = None
    api_retries: int = 0
    subagent_tasks: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)  # every result line, in order
    _denied: set[str] = field(default_factory=set)  # tool_use_ids refused by a permission_denied
    _subagent_types: dict[str, object] = field(default_factory=dict)  # launching tool id -> type
    _tools: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (name, turn)

    def feed(self, line: bytes, now: float) -> list[Event]:
        """Events for one complete line of the child's stdout (without its newline)."""
        record = json_object(line)
        if record is None:
            return []
        kind = record.get("type")
        out: list[Event] = []
        if kind == "system":
            self._system(record, now, out)
        elif kind == "assistant":
            self._assistant(record, now, out)
        elif kind == "user":
            self._user(record, now, out)
        elif kind == "result":
            self._result(record, now, out)
        return out

    def finish(self, now: float, cut: bool = False) -> list[Event]:
        """Events at the end of the stream: the open turn closes, a missing result is an error.

        ``cut``: the session was stopped (timeout, stall); the open turn failed.
        """
        out: list[Event] = []
        if not self.stream_seen:
            return out
        if self.result is None and not cut:
            self.errors += 1
            out.append(
                Event(
                    "ERROR",
                    "error",
                    {
                        "turn": self.current_turn,
                        "error_type": "no_result",
                        "message": "the agent's stream ended without a result",
                    },
                )
            )
        for tool_id, call in self._calls.items():  # never completed: failed, as far as known
            out.append(tool_result(tool_id, call, now, False))
        self._calls.clear()
        if self._turn is not None:
            self._close(now, out, failed=True)
        return out

    # -- line types ------------------------------------------------------------

    def _system(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        subtype = record.get("subtype")
        if subtype == "init":
            self._init(record, now, out)
        elif subtype == "api_retry":
            self._retry(record, out)
        elif subtype == "permission_denied":
            self._permission_denied(record, out)
        elif subtype == "task_started":
            self._task_started(record)
        elif subtype == "task_notification":
            self._task_notification(record, out)

    def _init(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        """The first init opens turn 1; a later one (a background task's answer) a new turn."""
        self.stream_seen = True
        session_id = record.get("session_id")
        if isinstance(session_id, str) and self.session_id is None:
            self.session_id = session_id
        version = record.get("claude_code_version")
        if isinstance(version, str) and self.cli_version is None:
            self.cli_version = version
        if self._turn is None and self.turns == 0:
            self._open(now, out)
        elif self._turn is not None and self._turn.has_reply:
            self._close(now, out)
            self._open(now, out)

    def _retry(self, record: dict[str, Any], out: list[Event]) -> None:
        self.stream_seen = True
        self.api_retries += 1
        fields = {
            "turn": self.current_turn,
            "attempt": int_or_none(record.get("attempt")),
            "max_retries": int_or_none(record.get("max_retries")),
            "error": record.get("error") if isinstance(record.get("error"), str) else None,
            "error_status": int_or_none(record.get("error_status")),
            "delay_ms": number_or_none(record.get("retry_delay_ms")),
        }
        out.append(Event("WARNING", "retry", fields))

    def _permission_denied(self, record: dict[str, Any], out: list[Event]) -> None:
        """A refused tool call, from its ``permission_denied`` line or the result's list."""
        self.stream_seen = True
        tool_id = record.get("tool_use_id")
        key = tool_id if isinstance(tool_id, str) else f"#{len(self._denied)}"
        if key in self._denied:
            return
        self._denied.add(key)
        name = record.get("tool_name")
        name = name if isinstance(name, str) else "unknown"
        launched = self._tools.get(tool_id) if isinstance(tool_id, str) else None
        text = record.get("message")
        message = f"{name}: {text}" if isinstance(text, str) and text else f"{name} was refused"
        self.errors += 1
        fields = {
            "turn": launched[1] if launched else self.current_turn,
            "error_type": "permission_denied",
            "message": clip_dots(message),
        }
        out.append(Event("ERROR", "error", fields))

    def _task_started(self, record: dict[str, Any]) -> None:
        self.stream_seen = True
        self.subagent_tasks += 1
        tool_id = record.get("tool_use_id")
        kind = record.get("subagent_type")
        if isinstance(tool_id, str) and kind is not None:
            self._subagent_types.setdefault(tool_id, kind)

    def _task_notification(self, record: dict[str, Any], out: list[Event]) -> None:
        """A subagent task ended: an ``error`` unless it completed."""
        status = record.get("status")
        if status == "completed" or not isinstance(status, str):
            return
        tool_id = record.get("tool_use_id")
        launched = self._tools.get(tool_id) if isinstance(tool_id, str) else None
        summary = record.get("summary")
        kind = self._subagent_types.get(tool_id) if isinstance(tool_id, str) else None
        text = f"subagent {kind or 'task'} {status}"
        if isinstance(summary, str) and summary:
            text = f"{text}: {summary}"
        self.errors += 1
        fields = {
            "turn": launched[1] if launched else self.current_turn,
            "error_type": f"subagent_{status}",
            "message": clip_dots(text),
        }
        out.append(Event("ERROR", "error", fields))

    def _assistant(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        message = record.get("message")
        if not isinstance(message, dict):
            return
        self.stream_seen = True
        parent = record.get("parent_tool_use_id")
        if parent is None:
            message_id = message.get("id")
            turn = self._turn
            if turn is None or (
                turn.has_reply and message_id is not None and message_id != turn.message_id
            ):
                if turn is not None:
                    self._close(now, out)
                turn = self._open(now, out)
            turn.has_reply = True
            if turn.message_id is None:
                turn.message_id = message_id
            error = record.get("error")
            if error:
                turn.failed = True
                self.errors += 1
                out.append(
                    Event(
                        "ERROR",
                        "error",
                        {
                            "turn": turn.number,
                            "error_type": str(error),
                            "message": clip_dots(_text_of(message.get("content")) or str(error)),
                        },
                    )
                )
            number = turn.number
        else:
            launched = self._tools.get(parent) if isinstance(parent, str) else None
            number = launched[1] if launched else (self.current_turn or 0)
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    self._tool_use(block, number, parent, out, now)

    def _tool_use(
        self, block: dict[str, Any], turn: int, parent: object, out: list[Event], now: float
    ) -> None:
        tool_id = block.get("id")
        if isinstance(tool_id, str) and tool_id in self._tools:
            return  # the same block seen again
        name = block.get("name")
        name = name if isinstance(name, str) else "unknown"
        if isinstance(tool_id, str):
            self._tools[tool_id] = (name, turn)
            self._calls[tool_id] = Call(name, turn, now, tool_input_text(block.get("input")))
        self.tool_calls[name] += 1
        fields: dict[str, Any] = {"agent": name, "turn": turn}
        tool_input = block.get("input")
        if name in SUBAGENT_TOOLS and isinstance(tool_input, dict):
            fields["subagent_type"] = tool_input.get("subagent_type")
            if isinstance(tool_id, str):
                self._subagent_types[tool_id] = fields["subagent_type"]
        if isinstance(parent, str):
            fields["parent_tool_use_id"] = parent
            fields["subagent_type"] = self._subagent_types.get(parent)
        out.append(Event("INFO", "agent_invoked", fields))

    def _user(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        message = record.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            return
        results = [
            block
            for block in message["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        ]
        if not results:
            return
        self.stream_seen = True
        for block in results:
            self._tool_result(block, now, out)
            if block.get("is_error") is not True:
                continue
            tool_id = block.get("tool_use_id")
            unknown = ("unknown", self.current_turn or 0)
            name, turn = self._tools.get(tool_id, unknown) if isinstance(tool_id, str) else unknown
            self.tool_errors += 1
            self.errors += 1
            text = _text_of(block.get("content"))
            out.append(
                Event(
                    "ERROR",
                    "error",
                    {
                        "turn": turn,
                        "error_type": "tool_error",
                        "message": clip_dots(f"{name}: {text}" if text else f"{name} failed"),
                    },
                )
            )
        top_level = record.get("parent_tool_use_id") is None
        if top_level and self._turn is not None and self._turn.has_reply:
            self._close(now, out)
            self._open(now, out)

    def _tool_result(self, block: dict[str, Any], now: float, out: list[Event]) -> None:
        """A call completed: its tool_result event (a result for no open call gives none)."""
        tool_id = block.get("tool_use_id")
        if not isinstance(tool_id, str):
            return
        call = self._calls.pop(tool_id, None)
        if call is not None:
            out.append(tool_result(tool_id, call, now, block.get("is_error") is not True))

    def _result(self, record: dict[str, Any], now: float, out: list[Event]) -> None:
        self.stream_seen = True
        self.result = record
        self.results.append(record)
        denials = record.get("permission_denials")
        for denial in denials if isinstance(denials, list) else ():
            if isinstance(denial, dict):  # older CLIs print no permission_denied line
                self._permission_denied(denial, out)
        session_id = record.get("session_id")
        if isinstance(session_id, str) and self.session_id is None:
            self.session_id = session_id
        is_error = record.get("is_error") is True
        if is_error:
            self.errors += 1
            subtype = record.get("subtype")
            error_type = (
                subtype if isinstance(subtype, str) and subtype != "success" else "result_is_error"
            )
            text = record.get("result")
            message = text if isinstance(text, str) and text else f"the agent ended with {subtype}"
            out.append(
                Event(
                    "ERROR",
                    "error",
                    {
                        "turn": self.current_turn,
                        "error_type": error_type,
                        "message": clip_dots(message),
                    },
                )
            )
        if self._turn is None and self.turns == 0:
            return
        if self._turn is not None:
            self._close(now, out, failed=is_error)

    # -- turns -----------------------------------------------------------------

    def _new_turn(self, number: int, now: float) -> _Turn:
        return _Turn(number, now)

    # -- summary ---------------------------------------------------------------

    def summary_fields(self) -> dict[str, Any]:
        """What the agent reported, for summary.json (None where it said nothing)."""
        result = self.result or {}
        usages = [r["usage"] for r in self.results if isinstance(r.get("usage"), dict)]
        subtype = result.get("subtype")
        is_error = result.get("is_error")
        terminal = result.get("terminal_reason")
        seen = self.stream_seen
        return {
            "agent_session_id": self.session_id,
            "cli_subtype": subtype if isinstance(subtype, str) else None,
            "is_error": is_error if isinstance(is_error, bool) else None,
            "num_turns": _total(r.get("num_turns") for r in self.results),
            "agent_turns": self.turns if seen else None,
            "total_cost_usd": number_or_none(result.get("total_cost_usd")),  # a running total
            **{key: _total(usage.get(key) for usage in usages) for key in USAGE_KEYS},
            "tool_call_count": sum(self.tool_calls.values()) if seen else None,
            "tool_error_count": self.tool_errors if seen else None,
            "tool_calls": dict(sorted(self.tool_calls.items())),
            "cli": CLI,
            "cli_version": self.cli_version,
            "terminal_reason": terminal if isinstance(terminal, str) else None,
            "api_retries": self.api_retries if seen else None,
            "permission_denials": self._denial_count(),
            "subagent_tasks": self.subagent_tasks if seen else None,
        }

    def _denial_count(self) -> int | None:
        """Tool calls refused for want of permission; None when the CLI never said."""
        if not self._denied and not any("permission_denials" in r for r in self.results):
            return None
        return len(self._denied)


def claims(record: dict[str, Any]) -> bool:
    """True when a JSON line is unmistakably Claude Code's: its init line."""
    return (
        record.get("type") == "system"
        and record.get("subtype") == "init"
        and "claude_code_version" in record
    )
