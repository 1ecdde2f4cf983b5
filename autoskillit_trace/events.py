"""events.jsonl: what happened in the session, one self-contained JSON line per event.

The schema is the auto-mode event log's: every line carries ``timestamp``
(ISO 8601 UTC, ``+00:00``), ``level`` (INFO, WARNING, ERROR) and ``event``,
then the event's own fields.  The wrapper writes its lifecycle here
(``session_start``, ``anomaly``, ``signal_forwarded``, ``timeout``,
``session_end``) and, with ``--agent-events``, the agent's turns and tools.

Each line is written with one ``write`` on an ``O_APPEND`` descriptor the
moment the event happens, so ``tail -f`` follows it and processes the wrapper
supervises can append their own lines to the same file (its path is exported
as ``AUTOSKILLIT_TRACE_EVENTS``) without interleaving.
"""

from __future__ import annotations

import os

from autoskillit_trace.ctx import suppress
from autoskillit_trace.faults import Faults
from autoskillit_trace.fsutil import open_private, write_all
from autoskillit_trace.jsonl import dumps_line
from autoskillit_trace.timeutil import CaptureClock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath

EVENTS = "events.jsonl"
ENV_EVENTS = "AUTOSKILLIT_TRACE_EVENTS"
ENV_SESSION_DIR = "AUTOSKILLIT_TRACE_SESSION_DIR"

INFO = "INFO"
WARNING = "WARNING"
ERROR = "ERROR"


def event_record(timestamp: str, level: str, event: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The base fields first, then the event's own (which cannot override them)."""
    record: dict[str, Any] = {"timestamp": timestamp, "level": level, "event": event}
    for key, value in fields.items():
        if key not in record:
            record[key] = value
    return record


class EventLog:
    """Appends events to ``<folder>/events.jsonl``; a write fault is reported once, then mute.

    ``clock`` is the session's capture clock, so events and snapshots share
    one timeline that never goes backwards.
    """

    def __init__(self, folder: StrPath, faults: Faults, clock: CaptureClock) -> None:
        self.path = os.path.join(folder, EVENTS)
        self.faults = faults
        self.clock = clock
        self.count = 0
        self._fd: int | None = None
        self._failed = False
        try:
            self._fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        except OSError as exc:
            self._failed = True
            self.faults.report(f"cannot write {self.path}", exc)

    def emit(self, level: str, event: str, **fields: Any) -> None:
        self.write(level, event, fields)

    def write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if self._fd is None or self._failed:
            return
        _, timestamp = self.clock.now()
        try:
            write_all(self._fd, dumps_line(event_record(timestamp, level, event, fields)))
        except OSError as exc:
            self._failed = True
            self.faults.report(f"cannot write {self.path}", exc)
            return
        self.count += 1

    def close(self) -> None:
        if self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None
