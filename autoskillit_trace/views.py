"""What ``ls`` and ``show`` print: lines of text built from records.  Pure, no I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autoskillit_trace.selection import peak_rss_kb
from autoskillit_trace.series import METRICS, Series
from autoskillit_trace.textfmt import (
    human_duration,
    human_kb,
    marker_line,
    render_table,
    shorten,
    sparkline,
)

LS_HEADERS = ("SESSION", "START (UTC)", "DURATION", "EXIT", "OK", "PEAK RSS", "ANOM", "COMMAND")
LS_RIGHT = (False, False, True, True, False, True, True, False)


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def short_time(ts: Any) -> str:
    """``2026-11-22 11:01:04`` from an ISO 8601 UTC text."""
    if not isinstance(ts, str) or len(ts) < 19:
        return "-"
    return ts[:10] + " " + ts[11:19]


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def ls_row(record: dict[str, Any]) -> list[str]:
    success = record.get("success")
    ok = "yes" if success is True else "no" if success is False else "-"
    if record.get("subtype") == "crashed":
        ok = "crashed"
    return [
        _text(record.get("dir_name") or record.get("session_id")),
        short_time(record.get("start_ts")),
        human_duration(_float(record.get("duration_seconds"))),
        _text(record.get("exit_code")),
        ok,
        human_kb(peak_rss_kb(record)),
        _text(record.get("anomaly_count")),
        _text(record.get("skill_command")),
    ]


def ls_table(records: Sequence[dict[str, Any]], width: int) -> list[str]:
    """The ``ls`` table, newest first as given; the command is cut to fit ``width``."""
    return render_table(LS_HEADERS, [ls_row(r) for r in records], LS_RIGHT, width)


# -- show ---------------------------------------------------------------------------


def summary_lines(summary: dict[str, Any], folder: str, state: str | None = None) -> list[str]:
    """The summary as ``label: value`` lines; ``state`` overrides the outcome line."""
    s = summary
    outcome = state or (
        f"{_text(s.get('subtype'))} (exit {_text(s.get('exit_code'))}): "
        f"{_text(s.get('termination_reason'))}"
    )
    interval = s.get("snapshot_interval_seconds")
    snapshots = _text(s.get("snapshot_count")) + (f" every {interval}s" if interval else "")
    fd_ratio = _float(s.get("peak_fd_ratio"))
    fds = f"{_text(s.get('peak_fd_count'))}" + (
        f" ({fd_ratio:.1%} of the limit)" if fd_ratio is not None else ""
    )
    by_kind = s.get("anomalies_by_kind")
    kinds = (
        " (" + ", ".join(f"{k} {v}" for k, v in by_kind.items()) + ")"
        if isinstance(by_kind, dict) and by_kind
        else ""
    )
    rows = [
        ("Session", _text(s.get("session_id"))),
        ("Folder", folder),
        ("Command", _text(s.get("skill_command"))),
        ("Directory", _text(s.get("cwd"))),
        ("Started", short_time(s.get("start_ts")) + " UTC"),
        ("Duration", human_duration(_float(s.get("duration_seconds")))),
        ("Outcome", outcome),
        ("Snapshots", snapshots),
        (
            "Peak RSS",
            f"{human_kb(_float(s.get('peak_rss_kb')))} (tree "
            f"{human_kb(_float(s.get('peak_tree_rss_kb')))})",
        ),
        ("Peak CPU", f"{_text(s.get('peak_tree_cpu_percent') or s.get('peak_cpu_percent'))} %"),
        ("Peak open files", fds),
        ("Peak OOM score", _text(s.get("peak_oom_score"))),
        ("Anomalies", _text(s.get("anomaly_count")) + kinds),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"{label + ':':<{width + 1}} {value}" for label, value in rows]


def anomaly_lines(anomalies: Sequence[dict[str, Any]], width: int) -> list[str]:
    """One line per anomaly: when, severity, kind, pid and detail."""
    lines = []
    for a in anomalies:
        snapshot = a.get("snapshot")
        elapsed = _float(snapshot.get("elapsed_s")) if isinstance(snapshot, dict) else None
        when = f"+{human_duration(elapsed)}" if elapsed is not None else short_time(a.get("ts"))
        detail = a.get("detail")
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in detail.items()) if detail else ""
        line = (
            f"  {when:>9}  {_text(a.get('severity')):<8}  {_text(a.get('kind')):<18}  "
            f"pid {_text(a.get('pid')):<7} {shown}"
        )
        lines.append(shorten(line.rstrip(), width))
    return lines


def _range_text(unit: str, low: float, high: float) -> str:
    if unit == "kb":
        return f"{human_kb(low)} .. {human_kb(high)}"
    if unit == "percent":
        return f"{low:.0f} .. {high:.0f} %"
    return f"{low:.0f} .. {high:.0f}"


def chart_lines(series: Series, anomaly_seqs: Sequence[Any], width: int) -> list[str]:
    """Sparklines of RSS, CPU and open files over the session, anomalies marked below."""
    if not len(series):
        return ["  (no snapshots recorded)"]
    label_width = max(len(label) for label, *_ in METRICS)
    spark_width = max(min(width - label_width - 28, 80), 8)
    lines = []
    for label, _, _, unit in METRICS:
        values = series.values[label]
        known = [v for v in values if v is not None]
        line = sparkline(values, spark_width)
        stats = _range_text(unit, min(known), max(known)) if known else "no data"
        lines.append(f"  {label:<{label_width}}  {line}  {stats}")
    positions = [p for p in (series.position_of(s) for s in anomaly_seqs) if p is not None]
    if positions:
        marks = marker_line(positions, len(series), spark_width)
        lines.append(f"  {'anomaly':<{label_width}}  {marks}")
    end = human_duration(series.elapsed[-1]) if series.elapsed else "-"
    start = human_duration(series.elapsed[0]) if series.elapsed else "-"
    span = len(sparkline(series.values[METRICS[0][0]], spark_width))
    axis = start + end.rjust(max(span - len(start), len(end) + 1))
    lines.append(f"  {'':<{label_width}}  {axis}")
    return lines


def show_text(
    summary: dict[str, Any],
    folder: str,
    anomalies: Sequence[dict[str, Any]],
    series: Series,
    width: int,
    state: str | None = None,
) -> list[str]:
    """Everything ``show`` prints on a terminal."""
    lines = summary_lines(summary, folder, state)
    if anomalies:
        lines.append("")
        lines.append(f"Anomalies ({len(anomalies)}):")
        lines.extend(anomaly_lines(anomalies, width))
    lines.append("")
    lines.append(f"Over time ({len(series)} snapshots, whole process tree):")
    lines.extend(chart_lines(series, [a.get("seq") for a in anomalies], width))
    return lines


# -- Markdown (show --markdown, $GITHUB_STEP_SUMMARY) ---------------------------------

MARKDOWN_MAX_ANOMALIES = 20


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or inline code."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def markdown_lines(summary: dict[str, Any], anomalies: Sequence[dict[str, Any]]) -> list[str]:
    """A short Markdown report of one session: outcome, duration, peaks, anomalies, agent."""
    s = summary
    ok = s.get("success") is True
    icon = "✅" if ok else "❌"
    command = shorten(_text(s.get("skill_command")), 200)
    outcome = (
        f"{_text(s.get('subtype'))} (exit {_text(s.get('exit_code'))}): "
        f"{_text(s.get('termination_reason'))}"
    )
    fd_ratio = _float(s.get("peak_fd_ratio"))
    rows = [
        ("Outcome", _md(outcome)),
        ("Duration", human_duration(_float(s.get("duration_seconds")))),
        ("Peak RSS", f"{human_kb(_float(s.get('peak_rss_kb')))} "
                     f"(tree {human_kb(_float(s.get('peak_tree_rss_kb')))})"),
        ("Peak CPU", f"{_text(s.get('peak_tree_cpu_percent') or s.get('peak_cpu_percent'))} %"),
        ("Peak open files", f"{_text(s.get('peak_fd_count'))}"
                            + (f" ({fd_ratio:.1%} of the limit)" if fd_ratio is not None else "")),
        ("Peak OOM score", _text(s.get("peak_oom_score"))),
        ("Snapshots", _text(s.get("snapshot_count"))),
        ("Anomalies", _text(s.get("anomaly_count"))),
        ("Session", f"`{_md(_text(s.get('dir_name') or s.get('session_id')))}` "
                    f"on {_md(_text(s.get('hostname')))}"),
    ]  # fmt: skip
    if s.get("agent_turns") is not None or s.get("num_turns") is not None:
        cost = _float(s.get("total_cost_usd"))
        rows.append(("Agent turns", _text(s.get("agent_turns") or s.get("num_turns"))))
        rows.append(
            ("Tool calls", f"{_text(s.get('tool_call_count'))} "
                           f"({_text(s.get('tool_error_count'))} failed)")
        )  # fmt: skip
        if cost is not None:
            rows.append(("Cost", f"${cost:.4f}"))
    heading = command.replace("`", "'").replace("\n", " ")  # a heading is not a table cell
    lines = [f"### {icon} `{heading}`", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    tools = s.get("tool_calls")
    if isinstance(tools, dict) and tools:
        shown = ", ".join(f"{_md(str(k))} {v}" for k, v in sorted(tools.items(), key=_by_count))
        lines += ["", f"Tools: {shown}"]
    if anomalies:
        lines += ["", f"**Anomalies ({len(anomalies)})**", ""]
        lines += ["| time | severity | kind | pid | detail |", "|---|---|---|---|---|"]
        for a in anomalies[:MARKDOWN_MAX_ANOMALIES]:
            snapshot = a.get("snapshot")
            elapsed = _float(snapshot.get("elapsed_s")) if isinstance(snapshot, dict) else None
            when = f"+{human_duration(elapsed)}" if elapsed is not None else short_time(a.get("ts"))
            detail = a.get("detail")
            text = " ".join(f"{k}={json.dumps(v)}" for k, v in detail.items()) if detail else ""
            lines.append(
                f"| {when} | {_md(_text(a.get('severity')))} | {_md(_text(a.get('kind')))} "
                f"| {_text(a.get('pid'))} | {_md(shorten(text, 120))} |"
            )
        if len(anomalies) > MARKDOWN_MAX_ANOMALIES:
            lines.append(f"\n… and {len(anomalies) - MARKDOWN_MAX_ANOMALIES} more")
    return lines


def _by_count(item: tuple[Any, Any]) -> tuple[float, str]:
    count = _float(item[1])
    return (-(count or 0.0), str(item[0]))
