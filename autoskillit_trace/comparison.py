"""Two runs side by side (``compare``), or a run against its job's usual.

Pure: records in, a comparison record out (the ``--json`` output), and its
text.  A run is its summary; "the usual" is a record of medians over the
job's latest successful runs (``baseline_record``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autoskillit_trace.regress import CPU, median, value_of
from autoskillit_trace.schema import number
from autoskillit_trace.textfmt import TIMES, human_duration, human_kb, render_table, shorten

# (label, field, unit): the figures compared, where either run has them.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("Duration", "duration_seconds", "s"),
    ("Peak RSS", "peak_rss_kb", "kb"),
    ("Peak tree RSS", "peak_tree_rss_kb", "kb"),
    ("Largest process", "max_process_rss_kb", "kb"),  # the kernel's exact peak of one
    ("Peak tree CPU", "peak_tree_cpu_percent", "%"),
    ("Peak processes", "peak_tree_procs", "n"),
    ("Peak threads", "peak_tree_threads", "n"),
    ("Peak open files", "peak_tree_fd_count", "n"),
    ("Peak OOM score", "peak_oom_score", "n"),
    ("CPU user", "cpu_user_seconds", "s"),
    ("CPU system", "cpu_system_seconds", "s"),
    ("CPU total", CPU.name, "s"),
    ("Snapshots", "snapshot_count", "n"),
    ("Anomalies", "anomaly_count", "n"),
)
MAX_PROCESSES = 10


def figure(record: dict[str, Any], field: str) -> float | None:
    if field == CPU.name:
        return value_of(record, CPU)
    found = number(record.get(field))
    return None if found is None else float(found)


def baseline_record(runs: Sequence[dict[str, Any]], job: str | None) -> dict[str, Any]:
    """The median of each figure over ``runs`` (those that have it), as one record."""
    record: dict[str, Any] = {"session_id": f"median of {len(runs)} runs", "job": job}
    for _, field, _ in FIGURES:
        values = [v for v in (figure(r, field) for r in runs) if v is not None]
        record[field] = median(values) if values else None
    record["runs"] = len(runs)
    return record


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a <= 0:
        return None
    return round(b / a, 2)


def _processes(record: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``top_processes`` by (comm, the job key of the cmdline): the largest peak, the CPU
    added up, a command line as recorded.  The key leaves out what differs between runs
    of the same job (temporary paths, ids), so a compiler of ``/tmp/ccX1.s`` is the one
    of ``/tmp/ccY2.s``."""
    from autoskillit_trace.jobkey import job_key

    found: dict[tuple[str, str], dict[str, Any]] = {}
    listed = record.get("top_processes")
    for process in listed if isinstance(listed, list) else ():
        if not isinstance(process, dict):
            continue
        cmdline = str(process.get("cmdline") or "")
        key = (str(process.get("comm") or ""), job_key(cmdline))
        entry = found.setdefault(key, {"peak_rss_kb": 0.0, "cpu_seconds": 0.0, "cmdline": cmdline})
        rss = number(process.get("peak_rss_kb"))
        cpu = number(process.get("cpu_seconds"))
        entry["peak_rss_kb"] = max(entry["peak_rss_kb"], float(rss or 0))
        entry["cpu_seconds"] += float(cpu or 0)
    return found


def process_changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """The processes whose peak memory or CPU changed most (relatively), matched by
    command name and command line (B's shown, as recorded); empty when either run lacks
    ``top_processes``."""
    if not isinstance(a.get("top_processes"), list) or not isinstance(b.get("top_processes"), list):
        return []
    before, after = _processes(a), _processes(b)
    none = {"peak_rss_kb": 0.0, "cpu_seconds": 0.0}
    rows: list[dict[str, Any]] = []
    for key in {**before, **after}:
        old, new = before.get(key, none), after.get(key, none)
        change = max(
            abs(new[f] - old[f]) / max(new[f], old[f]) if max(new[f], old[f]) > 0 else 0.0
            for f in ("peak_rss_kb", "cpu_seconds")
        )
        rows.append(
            {
                "comm": key[0],
                "cmdline": (after.get(key) or before[key])["cmdline"],
                "a_peak_rss_kb": old["peak_rss_kb"] if key in before else None,
                "b_peak_rss_kb": new["peak_rss_kb"] if key in after else None,
                "a_cpu_seconds": round(old["cpu_seconds"], 3) if key in before else None,
                "b_cpu_seconds": round(new["cpu_seconds"], 3) if key in after else None,
                "change": round(change, 3),
                "_rss_delta": abs(new["peak_rss_kb"] - old["peak_rss_kb"]),
            }
        )
    rows.sort(key=lambda r: (-r["change"], -r["_rss_delta"], r["comm"], r["cmdline"]))
    for row in rows:
        del row["_rss_delta"]
    return [r for r in rows if r["change"] > 0][:MAX_PROCESSES]


def _side(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("session_id", "dir_name", "job", "subtype", "exit_code", "start_ts", "runs")
    return {k: record.get(k) for k in keys if k in record}


def compare(
    a: dict[str, Any],
    b: dict[str, Any],
    kinds_a: dict[str, int] | None = None,
    kinds_b: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The ``compare`` record: both runs, their figures with B/A, anomalies by kind, processes.

    ``kinds_*`` default to the summaries' ``anomalies_by_kind`` (None: unknown).
    """
    if kinds_a is None:
        kinds_a = _kinds(a)
    if kinds_b is None:
        kinds_b = _kinds(b)
    figures = []
    for label, field, unit in FIGURES:
        va, vb = figure(a, field), figure(b, field)
        if va is None and vb is None:
            continue
        figures.append(
            {"name": label, "field": field, "unit": unit, "a": va, "b": vb, "ratio": _ratio(va, vb)}
        )
    kinds = sorted(set(kinds_a or {}) | set(kinds_b or {}))
    return {
        "a": _side(a),
        "b": _side(b),
        "figures": figures,
        "anomalies_by_kind": {
            k: {"a": _kind_count(kinds_a, k), "b": _kind_count(kinds_b, k)} for k in kinds
        },
        "processes": process_changes(a, b),
    }


def _kinds(record: dict[str, Any]) -> dict[str, int] | None:
    found = record.get("anomalies_by_kind")
    return dict(found) if isinstance(found, dict) else None


def _kind_count(kinds: dict[str, int] | None, kind: str) -> int | None:
    return None if kinds is None else int(kinds.get(kind, 0))


def value_text(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "kb":
        return human_kb(value)
    if unit == "s":
        return human_duration(value) if value >= 1 or value == 0 else f"{value:.2f}s"
    if unit == "%":
        return f"{value:.0f} %"
    return f"{value:g}"


def _name(side: dict[str, Any]) -> str:
    return str(side.get("dir_name") or side.get("session_id") or "-")


def _outcome(side: dict[str, Any]) -> str:
    if side.get("subtype") is None:
        return "-"
    return f"{side.get('subtype')} (exit {side.get('exit_code')})"


def compare_lines(record: dict[str, Any], width: int) -> list[str]:
    """``compare`` on a terminal: a table of the figures, anomalies, then processes."""
    a, b = record["a"], record["b"]
    rows = [["Session", _name(a), _name(b), ""], ["Outcome", _outcome(a), _outcome(b), ""]]
    if a.get("job") or b.get("job"):
        same = a.get("job") == b.get("job")
        rows.append(["Job", str(a.get("job") or "-"), "(same)" if same else str(b.get("job")), ""])
    for row in record["figures"]:
        ratio = row["ratio"]
        rows.append(
            [
                row["name"],
                value_text(row["unit"], row["a"]),
                value_text(row["unit"], row["b"]),
                "" if ratio is None else f"{ratio:.2f}{TIMES}",
            ]
        )
    for kind, counts in record["anomalies_by_kind"].items():
        rows.append([f"  {kind}", _count(counts["a"]), _count(counts["b"]), ""])
    rows = [[shorten(cell, 48) for cell in row] for row in rows]
    lines = render_table(["", "A", "B", "B/A"], rows, [False, True, True, True], width)
    processes = record["processes"]
    if processes:
        lines += ["", "Processes whose peak memory or CPU changed most (A → B):"]
        for p in processes:
            rss = f"{human_kb(p['a_peak_rss_kb'])} → {human_kb(p['b_peak_rss_kb'])}"
            cpu = f"{value_text('s', p['a_cpu_seconds'])} → {value_text('s', p['b_cpu_seconds'])}"
            what = p["cmdline"] or p["comm"]
            lines.append(shorten(f"  {p['comm']:<15} RSS {rss}, CPU {cpu}  {what}", width))
    return lines


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)
