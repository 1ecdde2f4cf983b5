"""A session's RSS, CPU and open-file series, read from its streamed trace.

Whole-tree values where the snapshot has them (the command and everything it
spawned), else the command's own.  Three numbers per snapshot are kept, not the
snapshots, so even a long session fits easily in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoskillit_trace.jsonl import iter_file
from autoskillit_trace.schema import number

# (label, tree field, own field, unit)
Metric = tuple[str, str, str, str]
METRICS: tuple[Metric, ...] = (
    ("RSS", "tree_rss_kb", "vm_rss_kb", "kb"),
    ("CPU %", "tree_cpu_percent", "cpu_percent", "percent"),
    ("Open files", "tree_fd_count", "fd_count", "count"),
)


def _number(value: Any) -> float | None:
    found = number(value)
    return None if found is None else float(found)


@dataclass
class Series:
    """Points in snapshot order; ``values[label][i]`` belongs to ``elapsed[i]``."""

    elapsed: list[float] = field(default_factory=list)
    seqs: list[int | None] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)
    header: dict[str, Any] | None = None
    skipped_lines: int = 0
    metrics: tuple[Metric, ...] = METRICS  # which series are kept (the HTML report keeps more)

    def __post_init__(self) -> None:
        for label, *_ in self.metrics:
            self.values.setdefault(label, [])

    def feed(self, record: dict[str, Any] | None) -> None:
        """Take one trace record; a cut or broken line (None) is counted and skipped."""
        if record is None:
            self.skipped_lines += 1
            return
        event = record.get("event")
        if event == "session_start":
            self.header = record
            return
        if event != "snapshot":
            return
        elapsed = _number(record.get("elapsed_s"))
        self.elapsed.append(elapsed if elapsed is not None else float(len(self.elapsed)))
        seq = record.get("seq")
        self.seqs.append(seq if isinstance(seq, int) and not isinstance(seq, bool) else None)
        for label, tree, own, _ in self.metrics:
            value = _number(record.get(tree))
            self.values[label].append(value if value is not None else _number(record.get(own)))

    def position_of(self, seq: Any) -> int | None:
        """The point index of snapshot ``seq``, for marking anomalies."""
        try:
            return self.seqs.index(seq)
        except ValueError:
            return None

    def __len__(self) -> int:
        return len(self.elapsed)


def read_series(trace: Path, metrics: tuple[Metric, ...] = METRICS) -> Series:
    """The series of a trace file; an absent file gives an empty series."""
    series = Series(metrics=metrics)
    try:
        for record in iter_file(trace):
            series.feed(record)
    except FileNotFoundError:
        pass
    return series
