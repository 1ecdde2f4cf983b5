"""``show --plot``: the session's series as a real chart, anomalies marked.

matplotlib is an optional extra (``pip install 'autoskillit-trace[plot]'``);
it is imported only here, only when a chart is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autoskillit_trace.series import METRICS, Series

FORMATS = (".png", ".svg")
INSTALL_HINT = "pip install 'autoskillit-trace[plot]'"
_SEVERITY_COLOURS = {"critical": "tab:red", "warning": "tab:orange"}


class PlotUnavailable(Exception):
    """matplotlib cannot be imported; the message says how to get it."""


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(
            f"--plot needs matplotlib, which is not installed; install it with: {INSTALL_HINT}"
        ) from None


def draw(series: Series, anomalies: Sequence[dict[str, Any]], title: str, path: Path) -> None:
    """Write a chart of RSS (MiB), CPU % and open files against seconds since start."""
    require_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    figure = Figure(figsize=(10, 7), layout="constrained")
    axes = figure.subplots(len(METRICS), 1, sharex=True)
    figure.suptitle(title, fontsize=10)
    marks = _anomaly_marks(series, anomalies)
    for ax, (label, _, _, unit) in zip(axes, METRICS, strict=True):
        values = series.values[label]
        if unit == "kb":
            values = [None if v is None else v / 1024 for v in values]
            label = f"{label} (MiB)"
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(series.elapsed, ys, linewidth=1.2, color="tab:blue")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        for x, _kind, severity in marks:
            ax.axvline(x, color=_SEVERITY_COLOURS.get(severity, "tab:gray"), linestyle="--")
    for x, kind, severity in marks:
        axes[0].annotate(
            kind,
            (x, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=_SEVERITY_COLOURS.get(severity, "tab:gray"),
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    axes[-1].set_xlabel("seconds since start")
    figure.savefig(path, format=path.suffix[1:].lower())


def anomaly_time(series: Series, anomaly: dict[str, Any]) -> float | None:
    """Seconds into the session when ``anomaly`` was detected: its snapshot's point, else
    the snapshot it carries; None when neither tells."""
    position = series.position_of(anomaly.get("seq"))
    snapshot = anomaly.get("snapshot")
    if position is not None:
        x: Any = series.elapsed[position]
    elif isinstance(snapshot, dict):
        x = snapshot.get("elapsed_s")
    else:
        x = None
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _anomaly_marks(
    series: Series, anomalies: Sequence[dict[str, Any]]
) -> list[tuple[float, str, str]]:
    marks = []
    for anomaly in anomalies:
        x = anomaly_time(series, anomaly)
        if x is not None:
            marks.append((x, str(anomaly.get("kind")), str(anomaly.get("severity"))))
    return marks
