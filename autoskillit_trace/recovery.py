"""A session whose wrapper died: its streamed trace, folded into a summary.

The store's orphan recovery reads the trace and writes what this returns,
while it holds the session's lock (so the wrapper is known to be gone).
Detection over the trace gives exactly what the live detector would have
found.  The same replay rebuilds the summary.json of a published session
that lost it.
"""

from __future__ import annotations

from autoskillit_trace.fold import Fold
from autoskillit_trace.jsonl import dumps_line
from autoskillit_trace.proctree import process_start_ticks, read_boot_id
from autoskillit_trace.records import Record
from autoskillit_trace.schema import number
from autoskillit_trace.summary import Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def why_lost(start: dict[str, Any]) -> str:
    """Tell a reboot, a reused pid and a plain death apart, from the start record."""
    boot_id = start.get("boot_id")
    if boot_id and boot_id != read_boot_id():
        return "wrapper_lost: the machine rebooted during the session"
    pid = start.get("wrapper_pid")
    if isinstance(pid, int) and pid > 0:
        ticks = process_start_ticks(pid)
        if ticks is not None and ticks != start.get("wrapper_start_ticks"):
            return f"wrapper_lost: wrapper pid {pid} now belongs to another process"
        return f"wrapper_lost: wrapper process {pid} ended without finishing the session"
    return "wrapper_lost: the wrapper ended without finishing the session"


class Replay(Record):
    """What a session's streamed trace holds: its start record, the fold, the anomaly lines."""

    __slots__ = ("anomaly_lines", "fold", "start", "usage")

    def __init__(self, name: str) -> None:
        self.start: dict[str, Any] = {"dir_name": name, "session_id": name}
        self.fold = Fold()
        self.anomaly_lines: list[bytes] = []
        # Who used it, from processes.jsonl as far as it was written (accounting.summarize),
        # and the agent's calls and turns from events.jsonl (toolcalls.tool_summary).
        self.usage: dict[str, Any] = {
            "process_count": None,
            "top_processes": [],
            "tool_time_seconds": {},
            "slowest_tool_calls": [],
        }


def replay(name: str, records: Iterable[dict[str, Any] | None]) -> Replay:
    """Fold the trace of the session in folder ``name`` again, as the live session did.

    A None record (a line cut by a crash) is skipped.
    """
    found = Replay(name)
    for record in records:
        if record is None:
            continue  # a line cut by the crash
        event = record.get("event")
        if event == "session_start":
            found.start.update(record)
            command = record.get("skill_command")
            found.fold.command_line = command if isinstance(command, str) else None
        elif event == "snapshot":
            for anomaly in found.fold.feed(record):
                found.anomaly_lines.append(dumps_line(finite(anomaly.to_record())))
    return found


def finite(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every NaN and infinity in it (a damaged trace's) made None.

    The JSON readers take them and the writers would write them back; written
    as null, summary.json, the index and the anomalies stay standard JSON.
    """
    return {key: _finite(value) for key, value in record.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return finite(value)
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def crashed_summary(found: Replay) -> dict[str, Any]:
    """The summary of a session whose wrapper died, from what its trace holds."""
    outcome = Outcome(
        exit_code=None,
        subtype="crashed",
        termination_reason=why_lost(found.start),
        end_ts=found.fold.peaks.last_ts,
        duration_seconds=found.fold.peaks.last_elapsed_s,
    )
    return finite({**found.fold.summary(found.start, outcome), **found.usage})


def rebuilt_summary(found: Replay, line: dict[str, Any]) -> dict[str, Any]:
    """summary.json again, for a published session whose summary.json was lost or damaged.

    Its index line holds the outcome and every scalar field as published;
    the trace gives the anomalies by kind, processes.jsonl the top processes
    and events.jsonl the tool calls; ``rebuilt`` says it was made again.
    """
    outcome = Outcome(exit_code=None, subtype="", termination_reason="")
    summary = {**found.fold.summary(found.start, outcome), **found.usage}
    summary.update(line)
    summary["rebuilt"] = True
    return finite(summary)
