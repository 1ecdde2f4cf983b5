"""A session folder read for its report: summary, series, anomalies and the agent's lane.

The same readers as ``show`` (series.py, the anomalies and the unfinished
state of commands/show.py), with the two series ``show`` folds away kept
apart: the command's own RSS beside the tree's, and the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoskillit_trace.events import EVENTS
from autoskillit_trace.jsonl import iter_file
from autoskillit_trace.report.calls import CallProcesses, processes_by_call
from autoskillit_trace.report.lane import Lane, build_lane
from autoskillit_trace.schema import number
from autoskillit_trace.series import Metric, Series, read_series
from autoskillit_trace.store.layout import PROCESSES as PROCESS_LINES
from autoskillit_trace.store.layout import SUMMARY, TRACE, read_json_object
from autoskillit_trace.timeutil import parse_iso

# (label, field, fallback field, unit): the whole tree's, else the command's own value.
TREE_RSS = "Tree RSS"
COMMAND_RSS = "Command RSS"
CPU = "CPU %"
OPEN_FILES = "Open files"
PROCESSES = "Processes"
REPORT_METRICS: tuple[Metric, ...] = (
    (TREE_RSS, "tree_rss_kb", "vm_rss_kb", "kb"),
    (COMMAND_RSS, "vm_rss_kb", "vm_rss_kb", "kb"),
    (CPU, "tree_cpu_percent", "cpu_percent", "percent"),
    (OPEN_FILES, "tree_fd_count", "fd_count", "count"),
    (PROCESSES, "tree_procs", "tree_procs", "count"),
)


@dataclass
class SessionView:
    """Everything the page of one session shows."""

    name: str  # the folder's name
    summary: dict[str, Any]
    state: str | None  # why there is no summary yet; None for a finished session
    series: Series
    anomalies: list[dict[str, Any]]
    lane: Lane
    calls: dict[str, CallProcesses] = field(default_factory=dict)  # by tool_use_id

    @property
    def duration(self) -> float:
        """The time axis: the session's duration, else its last snapshot."""
        recorded = number(self.summary.get("duration_seconds"))
        last = self.series.elapsed[-1] if len(self.series) else 0.0
        return last if recorded is None else max(float(recorded), last)


def start_epoch(summary: dict[str, Any], series: Series) -> float | None:
    """The session's t=0 as seconds since the epoch: its ``start_ts``."""
    for record in (summary, series.header or {}):
        value = record.get("start_ts") or record.get("ts")
        found = parse_iso(value) if isinstance(value, str) else None
        if found is not None:
            return found
    return None


def read_lane(folder: Path, start: float | None) -> Lane:
    """The agent's lane from events.jsonl; empty without the file or a start time."""
    if start is None:
        return Lane()
    try:
        return build_lane(iter_file(folder / EVENTS), start)
    except FileNotFoundError:
        return Lane()


def load_session(folder: Path) -> SessionView:
    """Read one session folder (finished, running or crashed) for its report."""
    from autoskillit_trace.commands.show import read_anomalies, unfinished_state

    summary = read_json_object(folder / SUMMARY)
    series = read_series(folder / TRACE, REPORT_METRICS)
    state = None
    if summary is None:
        summary = dict(series.header or {"session_id": folder.name})
        summary["snapshot_count"] = len(series)
        state = unfinished_state(folder)
    lane = read_lane(folder, start_epoch(summary, series))
    calls = read_call_processes(folder) if lane.tools else {}
    return SessionView(folder.name, summary, state, series, read_anomalies(folder), lane, calls)


def read_call_processes(folder: Path) -> dict[str, CallProcesses]:
    """The processes behind each tool call; none without processes.jsonl."""
    try:
        return processes_by_call(iter_file(folder / PROCESS_LINES))
    except FileNotFoundError:
        return {}
