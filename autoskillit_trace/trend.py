"""A job over its runs (``trend``): sparklines, the latest run against the median,
the runs flagged as regressions.  Pure: index records in, lines out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autoskillit_trace.comparison import value_text
from autoskillit_trace.regress import CPU, DURATION, PEAK_MEMORY, comparable, median, value_of
from autoskillit_trace.textfmt import TIMES, marker_line, sparkline

ROWS = ((DURATION, "duration", "s"), (PEAK_MEMORY, "peak memory", "kb"), (CPU, "CPU", "s"))
REGRESSED = "regression_metrics"  # the summary's field: the metrics a run regressed on


def regressed(record: dict[str, Any]) -> list[str]:
    """The metrics ``record`` was flagged a regression on."""
    found = record.get(REGRESSED)
    return found.split() if isinstance(found, str) else []


def trend_record(job: str, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``runs`` oldest first: each metric's values, the latest against the median of the
    earlier successful runs, and the runs flagged as regressions."""
    metrics = {}
    for metric, label, unit in ROWS:
        values = [value_of(r, metric) for r in runs]
        earlier = [
            v
            for r, v in zip(runs[:-1], values[:-1], strict=True)
            if v is not None and comparable(r)
        ]
        latest = values[-1] if values else None
        middle = median(earlier) if earlier else None
        metrics[metric.name] = {
            "label": label,
            "unit": unit,
            "values": values,
            "latest": latest,
            "median": middle,
            "ratio": round(latest / middle, 2) if latest is not None and middle else None,
        }
    flagged = [
        {"session": r.get("dir_name") or r.get("session_id"), "metrics": regressed(r)}
        for r in runs
        if regressed(r)
    ]
    return {"job": job, "runs": len(runs), "metrics": metrics, "regressions": flagged}


def trend_lines(record: dict[str, Any], runs: Sequence[dict[str, Any]], width: int) -> list[str]:
    """The trend on a terminal, one sparkline per metric, ``^`` under flagged runs."""
    lines = [f"Job: {record['job']}  ({record['runs']} runs, oldest first)"]
    if not runs:
        return [*lines, "  (no runs recorded)"]
    spark_width = max(min(width - 60, 80), 8)
    for metric, label, unit in ROWS:
        row = record["metrics"][metric.name]
        values = row["values"]
        if all(v is None for v in values):
            lines.append(f"  {label:<12} (not recorded)")
            continue
        latest, middle = row["latest"], row["median"]
        against = f"latest {value_text(unit, latest)}, median {value_text(unit, middle)}" + (
            f" ({row['ratio']:.2f}{TIMES})" if row["ratio"] is not None else ""
        )
        lines.append(f"  {label:<12} {sparkline(values, spark_width)}  {against}")
        marks = [i for i, r in enumerate(runs) if metric.name in regressed(r)]
        if marks:
            lines.append(f"  {'':<12} {marker_line(marks, len(runs), spark_width)}")
    if record["regressions"]:
        lines += ["", "Regressions (^):"]
        for flagged in record["regressions"]:
            lines.append(f"  {flagged['session']}: {', '.join(flagged['metrics'])}")
    return lines
