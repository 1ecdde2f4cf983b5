"""Is this run worse than usual?  A finished session against its job's past runs.

Not a per-snapshot rule (detect.py): a session is compared, once it has
ended, with the latest successful runs of its job, on duration, peak tree
RSS and total CPU seconds.  A figure is a regression when it is above the
median of those runs by more than ``factor`` times *and* by more than the
metric's absolute floor (2 ms against 1 ms is no regression).  The spread
reported is the median absolute deviation (MAD) of the runs compared.

Pure: the caller reads the job's index records (store.index) and writes
the anomaly.
"""

from __future__ import annotations

from autoskillit_trace.records import Record
from autoskillit_trace.schema import number
from autoskillit_trace.totals import missed_peak

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from autoskillit_trace.config import Settings

KIND = "regression"


class Metric(Record):
    """One figure of a run that is compared: its name, how it reads a record, its unit."""

    __slots__ = ("label", "name", "unit")

    def __init__(self, name: str, label: str, unit: str) -> None:
        self.name = name  # the name in an anomaly's detail
        self.label = label  # "peak memory": as the reports word it
        self.unit = unit  # "s" or "kb"


DURATION = Metric("duration_seconds", "duration", "s")
PEAK_MEMORY = Metric("peak_tree_rss_kb", "peak memory", "kb")
CPU = Metric("cpu_seconds", "CPU time", "s")
METRICS: tuple[Metric, ...] = (DURATION, PEAK_MEMORY, CPU)


def value_of(record: dict[str, Any], metric: Metric) -> float | None:
    """The metric in a summary or index record; None when it has none.

    CPU seconds are ``cpu_user_seconds + cpu_system_seconds``, both needed.
    Peak memory is the tree's sampled peak, or the kernel's exact peak of its
    largest process where the snapshots missed that (``totals.missed_peak``:
    a run shorter than one interval is sampled before its exec): the tree
    held at least that much at once.
    """
    if metric is CPU:
        user = number(record.get("cpu_user_seconds"))
        system = number(record.get("cpu_system_seconds"))
        return None if user is None or system is None else float(user + system)
    found = missed_peak(record) if metric is PEAK_MEMORY else None
    if found is None:
        found = number(record.get(metric.name))
    return None if found is None else float(found)


class Thresholds(Record):
    """When a figure is a regression (the ``linux_tracing.regression_*`` settings)."""

    __slots__ = ("factor", "floors", "min_runs", "runs")

    def __init__(
        self,
        runs: int = 20,  # runs compared with (0: none)
        min_runs: int = 5,  # fewer runs: no comparison
        factor: float = 1.5,
        floors: dict[str, float] | None = None,  # by metric name, in the metric's unit
    ) -> None:
        self.runs = runs
        self.min_runs = min_runs
        self.factor = factor
        self.floors = floors if floors is not None else {
            DURATION.name: 1.0, PEAK_MEMORY.name: 32 * 1024.0, CPU.name: 1.0,
        }  # fmt: skip

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            settings.regression_runs,
            settings.regression_min_runs,
            settings.regression_factor,
            {
                DURATION.name: settings.regression_floor_seconds,
                PEAK_MEMORY.name: settings.regression_floor_rss_mb * 1024.0,
                CPU.name: settings.regression_floor_cpu_seconds,
            },
        )

    @property
    def needed(self) -> int:
        """Runs a comparison needs."""
        return min(self.min_runs, self.runs)


def comparable(record: dict[str, Any]) -> bool:
    """A run that tells what is usual: finished, and successful."""
    return record.get("success") is True and record.get("subtype") in ("success", None)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class Baseline(Record):
    """What is usual for one metric: the median and MAD of the runs that had it."""

    __slots__ = ("mad", "median", "runs")

    def __init__(self, median: float, mad: float, runs: int) -> None:
        self.median = median
        self.mad = mad
        self.runs = runs

    @classmethod
    def of(cls, values: Sequence[float]) -> Baseline:
        middle = median(values)
        return cls(middle, median([abs(v - middle) for v in values]), len(values))


def baselines(history: Sequence[dict[str, Any]]) -> dict[str, Baseline]:
    """The baseline of each metric over ``history``, for metrics some runs had."""
    found: dict[str, Baseline] = {}
    for metric in METRICS:
        values = [v for v in (value_of(r, metric) for r in history) if v is not None]
        if values:
            found[metric.name] = Baseline.of(values)
    return found


def regressions(
    current: dict[str, Any], history: Sequence[dict[str, Any]], thresholds: Thresholds
) -> list[dict[str, Any]]:
    """The anomaly details of ``current``'s regressions against ``history`` (its job's runs).

    A metric missing from ``current``, or had by fewer than ``thresholds.needed``
    runs, is not compared.  Only the newest ``thresholds.runs`` runs count.
    """
    if thresholds.runs <= 0:
        return []
    runs = [r for r in history if comparable(r)][: thresholds.runs]
    found: list[dict[str, Any]] = []
    for name, base in baselines(runs).items():
        metric = next(m for m in METRICS if m.name == name)
        value = value_of(current, metric)
        if value is None or base.runs < thresholds.needed:
            continue
        floor = thresholds.floors.get(name, 0.0)
        if value > base.median * thresholds.factor and value - base.median > floor:
            found.append(
                {
                    "metric": name,
                    "value": _rounded(value),
                    "median": _rounded(base.median),
                    "ratio": round(value / base.median, 2) if base.median > 0 else None,
                    "mad": _rounded(base.mad),
                    "runs": base.runs,
                    "factor": thresholds.factor,
                    "floor": floor,
                }
            )
    return found


def _rounded(value: float) -> float:
    return round(value, 6)


def anomaly_record(
    detail: dict[str, Any], ts: str | None, pid: int | None, job: str | None
) -> dict[str, Any]:
    """The anomalies.jsonl line of a regression: no snapshot opened it."""
    from autoskillit_trace.detect import SEVERITY

    return {
        "ts": ts,
        "seq": None,
        "event": "anomaly",
        "kind": KIND,
        "severity": SEVERITY[KIND],
        "pid": pid,
        "detail": {**detail, "job": job},
        "snapshot": None,
    }


def add_to_summary(summary: dict[str, Any], found: Sequence[dict[str, Any]]) -> None:
    """Count the regressions ``found`` in the summary's anomaly fields, and name their
    metrics in ``regression_metrics`` (space-separated: the index keeps scalars only)."""
    if not found:
        return
    kinds = dict(summary.get("anomalies_by_kind") or {})
    kinds[KIND] = kinds.get(KIND, 0) + len(found)
    summary["anomalies_by_kind"] = dict(sorted(kinds.items()))
    summary["anomaly_count"] = int(summary.get("anomaly_count") or 0) + len(found)
    summary["regression_metrics"] = " ".join(str(detail["metric"]) for detail in found)
