"""Finalize a session whose wrapper died: its streamed trace becomes a summary.

Called by the store while it holds the session's lock, so the wrapper is
known to be gone.  Detection over the trace gives exactly what the live
detector would have found, so anomalies.jsonl is rewritten whole.  The same
replay rebuilds the summary.json of a published session that lost it.
"""

from __future__ import annotations

import os

from autoskillit_trace.fold import Fold
from autoskillit_trace.fsutil import write_atomic
from autoskillit_trace.jsonl import dumps_line, iter_file
from autoskillit_trace.proctree import process_start_ticks, read_boot_id
from autoskillit_trace.records import Record
from autoskillit_trace.store.layout import ANOMALIES, TRACE
from autoskillit_trace.summary import Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
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

    __slots__ = ("anomaly_lines", "fold", "start")

    def __init__(self, name: str) -> None:
        self.start: dict[str, Any] = {"dir_name": name, "session_id": name}
        self.fold = Fold()
        self.anomaly_lines: list[bytes] = []


def replay(folder: str) -> Replay:
    """Fold the trace again, as the live session did; a line cut by a crash is skipped."""
    found = Replay(os.path.basename(folder))
    trace = os.path.join(folder, TRACE)
    records = iter_file(trace) if os.path.exists(trace) else iter(())
    for record in records:
        if record is None:
            continue  # a line cut by the crash
        event = record.get("event")
        if event == "session_start":
            found.start.update(record)
        elif event == "snapshot":
            for anomaly in found.fold.feed(record):
                found.anomaly_lines.append(dumps_line(anomaly.to_record()))
    return found


def finalize_crashed(folder: str) -> dict[str, Any]:
    """Rewrite anomalies.jsonl for a crashed session and return its summary.

    The store publishes the summary (summary.json and the index line).
    """
    found = replay(folder)
    if found.anomaly_lines:
        write_atomic(os.path.join(folder, ANOMALIES), b"".join(found.anomaly_lines))
    outcome = Outcome(
        exit_code=None,
        subtype="crashed",
        termination_reason=why_lost(found.start),
        end_ts=found.fold.peaks.last_ts,
        duration_seconds=found.fold.peaks.last_elapsed_s,
    )
    return found.fold.summary(found.start, outcome)


def rebuild_summary(folder: str, line: dict[str, Any]) -> dict[str, Any]:
    """summary.json again, for a published session whose summary.json was lost or damaged.

    Its index line holds the outcome and every scalar field as published;
    the trace gives the anomalies by kind.  What only summary.json held (the
    leftover processes' details, the agent's tool calls) is gone: those
    lists stay empty and ``rebuilt`` says why.
    """
    found = replay(folder)
    outcome = Outcome(exit_code=None, subtype="", termination_reason="")
    summary = found.fold.summary(found.start, outcome)
    summary.update(line)
    summary["rebuilt"] = True
    return summary
