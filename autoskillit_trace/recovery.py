"""Finalize a session whose wrapper died: its streamed trace becomes a summary.

Called by the store while it holds the session's lock, so the wrapper is
known to be gone.  Detection over the trace gives exactly what the live
detector would have found, so anomalies.jsonl is rewritten whole.
"""

from __future__ import annotations

import os
from collections import Counter

from autoskillit_trace.detect import Detector
from autoskillit_trace.jsonl import dumps_line, iter_file
from autoskillit_trace.sampler import process_start_ticks, read_boot_id
from autoskillit_trace.store import ANOMALIES, TRACE, write_atomic
from autoskillit_trace.summary import Outcome, Peaks, build_summary

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


def finalize_crashed(folder: str) -> dict[str, Any]:
    """Rewrite anomalies.jsonl for a crashed session and return its summary.

    The store publishes the summary (summary.json and the index line).
    """
    name = os.path.basename(folder)
    start: dict[str, Any] = {"dir_name": name, "session_id": name}
    peaks = Peaks()
    detector = Detector()
    anomaly_lines: list[bytes] = []
    kinds: Counter[str] = Counter()
    trace = os.path.join(folder, TRACE)
    records = iter_file(trace) if os.path.exists(trace) else iter(())
    for record in records:
        if record is None:
            continue  # a line cut by the crash
        event = record.get("event")
        if event == "session_start":
            start.update(record)
        elif event == "snapshot":
            peaks.feed(record)
            for anomaly in detector.feed(record):
                anomaly_lines.append(dumps_line(anomaly.to_record()))
                kinds[anomaly.kind] += 1
    if anomaly_lines:
        write_atomic(os.path.join(folder, ANOMALIES), b"".join(anomaly_lines))
    outcome = Outcome(
        exit_code=None,
        subtype="crashed",
        termination_reason=why_lost(start),
        end_ts=peaks.last_ts,
        duration_seconds=peaks.last_elapsed_s,
    )
    return build_summary(start, peaks, outcome, dict(kinds))
