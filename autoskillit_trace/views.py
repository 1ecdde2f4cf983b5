"""What ``ls`` and ``show`` print, and the Markdown report: lines built from records.

A summary has one set of rows (``summary_rows``), shown two ways: aligned
text for ``show`` and a table for ``show --markdown``, $GITHUB_STEP_SUMMARY
and JUnit.  Pure, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autoskillit_trace.schema import number
from autoskillit_trace.selection import peak_rss_kb
from autoskillit_trace.series import METRICS, Series
from autoskillit_trace.textfmt import (
    TIMES,
    human_duration,
    human_kb,
    marker_line,
    render_table,
    shorten,
    sparkline,
)
from autoskillit_trace.timeutil import whole_seconds
from autoskillit_trace.totals import at_floor, missed_peak

LS_HEADERS = ("SESSION", "START (UTC)", "DURATION", "EXIT", "OK", "PEAK RSS", "ANOM", "COMMAND")
LS_RIGHT = (False, False, True, True, False, True, True, False)


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def short_time(ts: Any) -> str:
    """``2026-11-22 11:01:04`` from an ISO 8601 UTC text."""
    return whole_seconds(ts, " ") or "-"


def _float(value: Any) -> float | None:
    found = number(value)
    return None if found is None else float(found)


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


# -- a summary: one set of rows, shown as text (show) or Markdown ------------------


def summary_rows(summary: dict[str, Any], state: str | None = None) -> list[tuple[str, str]]:
    """What both outputs tell of a session, as (label, plain text): outcome, figures, agent.

    ``state`` overrides the outcome (a session without a summary yet).
    """
    s = summary
    outcome = state or (
        f"{_text(s.get('subtype'))} (exit {_text(s.get('exit_code'))}): "
        f"{_text(s.get('termination_reason'))}"
    )
    interval = s.get("snapshot_interval_seconds")
    fd_ratio = _float(s.get("peak_fd_ratio"))
    by_kind = s.get("anomalies_by_kind")
    kinds = (
        " (" + ", ".join(f"{k} {v}" for k, v in by_kind.items()) + ")"
        if isinstance(by_kind, dict) and by_kind
        else ""
    )
    rows = [
        ("Outcome", outcome),
        ("Duration", human_duration(_float(s.get("duration_seconds")))),
        *memory_rows(s),
        ("Peak CPU", f"{_text(s.get('peak_tree_cpu_percent') or s.get('peak_cpu_percent'))} %"),
        *cpu_rows(s),
        ("Peak open files", f"{_text(s.get('peak_fd_count'))}"
                            + (f" ({fd_ratio:.1%} of the limit)" if fd_ratio is not None else "")),
        ("Peak OOM score", _text(s.get("peak_oom_score"))),
        ("Snapshots", _text(s.get("snapshot_count")) + (f" every {interval}s" if interval else "")),
        ("Anomalies", _text(s.get("anomaly_count")) + kinds),
    ]  # fmt: skip
    if s.get("stalled_retrying") is True:
        rows[0] = ("Outcome", f"{outcome}, while the agent retried its API")
    cli = agent_cli_text(s)
    if cli is not None:
        rows.append(("Agent", cli))
    if s.get("agent_turns") is not None or s.get("num_turns") is not None:
        cost = _float(s.get("total_cost_usd"))
        rows.append(("Agent turns", _text(s.get("agent_turns") or s.get("num_turns"))))
        rows.append(
            ("Tool calls", f"{_text(s.get('tool_call_count'))} "
                           f"({_text(s.get('tool_error_count'))} failed)")
        )  # fmt: skip
        if cost is not None:
            rows.append(("Cost", f"${cost:.4f}"))
    return rows


def agent_cli_text(summary: dict[str, Any]) -> str | None:
    """``claude 2.1.332``: the agent CLI whose stream was read, and its version when known."""
    cli = summary.get("cli")
    if not isinstance(cli, str) or not cli:
        return None
    version = summary.get("cli_version")
    return f"{cli} {version}" if isinstance(version, str) and version else cli


def memory_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Peak RSS, led by the kernel's exact figure when every snapshot missed the peak.

    A command shorter than one interval is sampled once, before its exec: the
    sampled peak is then the wrapper's fork, not what the command used.
    """
    s = summary
    command, tree = (human_kb(_float(s.get(name))) for name in ("peak_rss_kb", "peak_tree_rss_kb"))
    sampled = f"{command} (tree {tree})"
    missed = missed_peak(s)
    if missed is not None:
        snapshots = _text(s.get("snapshot_count"))
        return [
            ("Peak RSS", f"{human_kb(missed)}: the largest process, exact (from the kernel)"),
            ("Sampled RSS", f"{sampled}: the highest of {snapshots} snapshots, which missed it"),
        ]
    rows = [("Peak RSS", sampled)]
    exact = _float(s.get("max_process_rss_kb"))
    if exact is None:
        return rows
    if at_floor(s):  # the wrapper's own size, which the kernel counts for a spawned command
        shown = f"at most {human_kb(exact)} (the kernel counts the wrapper's size at the spawn)"
    else:
        shown = f"{human_kb(exact)} RSS, exact (from the kernel)"
    return [*rows, ("Largest process", shown)]


def cpu_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """``CPU time: 1.20s user, 0.30s system``: the kernel's figure for the tree, if known."""
    user = _float(summary.get("cpu_user_seconds"))
    system = _float(summary.get("cpu_system_seconds"))
    if user is None or system is None:
        return []
    return [("CPU time", f"{user:.2f}s user, {system:.2f}s system (whole tree, exact)")]


def tools_text(summary: dict[str, Any]) -> str | None:
    """``Bash 3, Read 1``: the agent's tools, most used first; None when it used none."""
    tools = summary.get("tool_calls")
    if not isinstance(tools, dict) or not tools:
        return None
    return ", ".join(f"{k} {v}" for k, v in sorted(tools.items(), key=_by_count))


def _by_count(item: tuple[Any, Any]) -> tuple[float, str]:
    count = _float(item[1])
    return (-(count or 0.0), str(item[0]))


def anomaly_cells(anomaly: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """When (time into the session, else the clock), severity, kind, pid and detail."""
    snapshot = anomaly.get("snapshot")
    elapsed = _float(snapshot.get("elapsed_s")) if isinstance(snapshot, dict) else None
    when = f"+{human_duration(elapsed)}" if elapsed is not None else short_time(anomaly.get("ts"))
    detail = anomaly.get("detail")
    if isinstance(detail, dict):
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in detail.items())
    else:  # no detail, or one that is no object (a damaged line): unknown
        shown = "" if detail is None else "-"
    kind, severity = _text(anomaly.get("kind")), _text(anomaly.get("severity"))
    return when, severity, kind, _text(anomaly.get("pid")), shown


# -- regressions: a run against its job's usual -------------------------------------

_METRIC_LABELS = {
    "duration_seconds": "duration",
    "peak_tree_rss_kb": "peak memory",
    "cpu_seconds": "CPU time",
}


def metric_text(metric: str, value: float | None) -> str:
    """A figure of a run, in its unit: ``1.2 GiB``, ``3m05s``."""
    return human_kb(value) if metric.endswith("_kb") else human_duration(value)


def regression_sentence(anomaly: dict[str, Any]) -> str | None:
    """``2.1x the usual peak memory of this job (median 1.2 GiB over 20 runs)`` (with a
    multiplication sign); None when ``anomaly`` is no regression."""
    detail = anomaly.get("detail")
    if anomaly.get("kind") != "regression" or not isinstance(detail, dict):
        return None
    metric = str(detail.get("metric"))
    ratio = _float(detail.get("ratio"))
    times = f"{ratio:.1f}{TIMES}" if ratio is not None else "far above"
    median = metric_text(metric, _float(detail.get("median")))
    label = _METRIC_LABELS.get(metric, metric)
    runs = _text(detail.get("runs"))
    return f"{times} the usual {label} of this job (median {median} over {runs} runs)"


def regression_sentences(anomalies: Sequence[dict[str, Any]]) -> list[str]:
    return [s for s in map(regression_sentence, anomalies) if s is not None]


# -- who used it: processes and tool calls, one set of rows for both outputs ------------

PROCESS_HEADERS = ("PID", "COMM", "PEAK RSS", "CPU", "SEEN", "COMMAND")
PROCESS_RIGHT = (True, False, True, True, False, False)
CALL_HEADERS = ("TOOL", "TIME", "OK", "PEAK TREE RSS", "INPUT")
CALL_RIGHT = (False, True, False, True, False)


def lifetime_text(process: dict[str, Any]) -> str:
    """``+0.5s .. +3.2s``: when the snapshots saw the process, in the session's time."""
    first, last = _float(process.get("first_seen_s")), _float(process.get("last_seen_s"))
    return f"+{human_duration(first)} .. +{human_duration(last)}"


def process_cells(process: dict[str, Any]) -> list[str]:
    """A process (a top_processes entry or a processes.jsonl line) as PROCESS_HEADERS cells."""
    cpu = _float(process.get("cpu_seconds"))
    return [
        _text(process.get("pid")),
        _text(process.get("comm")),
        human_kb(_float(process.get("peak_rss_kb"))),
        "-" if cpu is None else f"{cpu:.2f}s",
        lifetime_text(process),
        _text(process.get("cmdline")),
    ]


def process_rows(summary: dict[str, Any], limit: int | None = None) -> list[list[str]]:
    """The summary's top processes (by memory, then by CPU), at most ``limit``."""
    top = summary.get("top_processes")
    found = [p for p in top if isinstance(p, dict)] if isinstance(top, list) else []
    return [process_cells(p) for p in found[:limit]]


def call_rows(summary: dict[str, Any], limit: int | None = None) -> list[list[str]]:
    """The slowest tool calls, at most ``limit``, as CALL_HEADERS cells."""
    calls = summary.get("slowest_tool_calls")
    found = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    return [
        [
            _text(call.get("name")),
            human_duration(_float(call.get("duration_sec"))),
            "yes" if call.get("success") is True else "no" if call.get("success") is False else "-",
            human_kb(_float(call.get("peak_tree_rss_kb"))),
            _text(call.get("input")),
        ]
        for call in found[:limit]
    ]


def tool_time_text(summary: dict[str, Any]) -> str | None:
    """``Bash 41.0s, Read 0.3s``: time per tool, most first; None when no call completed."""
    times = summary.get("tool_time_seconds")
    if not isinstance(times, dict) or not times:
        return None
    ranked = sorted(times.items(), key=_by_count)
    return ", ".join(f"{name} {human_duration(_float(seconds))}" for name, seconds in ranked)


class Section:
    """A titled table of a summary, rendered as text by ``show`` and as Markdown."""

    def __init__(
        self, title: str, headers: Sequence[str], right: Sequence[bool], rows: list[list[str]],
        note: str | None = None,
    ) -> None:  # fmt: skip
        self.title = title
        self.headers = headers
        self.right = right
        self.rows = rows
        self.note = note  # a line under the title

    def text(self, width: int) -> list[str]:
        lines = ["", f"{self.title}:"]
        if self.note:
            lines.append(f"  {self.note}")
        table = render_table(self.headers, self.rows, self.right, width - 2)
        return lines + [f"  {line}" for line in table]

    def markdown(self) -> list[str]:
        lines = ["", f"**{self.title}**", ""]
        if self.note:
            lines += [_md(self.note), ""]
        lines.append("| " + " | ".join(h.lower() for h in self.headers) + " |")
        lines.append("|" + "---|" * len(self.headers))
        for row in self.rows:
            lines.append("| " + " | ".join(_md(shorten(cell, 120)) for cell in row) + " |")
        return lines


def usage_sections(summary: dict[str, Any], limit: int | None = None) -> list[Section]:
    """Processes (when any was seen) and, for agent sessions, tool calls; ``limit`` rows each."""
    sections = []
    processes = process_rows(summary, limit)
    if processes:
        count = summary.get("process_count")
        title = "Top processes" if limit else f"Processes ({_text(count)} seen)"
        note = None if limit else "the largest by peak RSS, then by CPU time"
        sections.append(Section(title, PROCESS_HEADERS, PROCESS_RIGHT, processes, note))
    calls = call_rows(summary, limit)
    if calls:
        title = "Slowest tool calls" if limit else "Tool calls"
        times = tool_time_text(summary)
        sections.append(
            Section(title, CALL_HEADERS, CALL_RIGHT, calls, times and f"time per tool: {times}")
        )
    return sections


def process_tree_lines(processes: Sequence[dict[str, Any]], width: int) -> list[str]:
    """``show --processes``: every process under its parent (by ppid), oldest first.

    A pid reused within the session names the process that held it when the
    child was first seen.
    """
    ordered = sorted(processes, key=lambda p: _float(p.get("first_seen_s")) or 0.0)
    holders: dict[Any, list[int]] = {}  # pid -> indexes in ``ordered``, oldest first
    for at, process in enumerate(ordered):
        holders.setdefault(process.get("pid"), []).append(at)
    children: dict[int | None, list[int]] = {}
    for at, process in enumerate(ordered):
        parent = _parent_of(ordered, holders, process)
        children.setdefault(parent, []).append(at)
    rows: list[list[str]] = []
    shown: set[int] = set()
    roots = children.get(None, [])
    rooted = set(roots)  # a set: thousands of roots (parents no snapshot saw) stay linear
    roots += [at for at in range(len(ordered)) if at not in rooted]  # any a cycle would hide
    stack = [(at, 0) for at in reversed(roots)]
    while stack:
        at, depth = stack.pop()
        if at in shown:
            continue
        shown.add(at)
        cells = process_cells(ordered[at])
        cells[1] = "  " * depth + cells[1]
        rows.append(cells)
        stack.extend((child, depth + 1) for child in reversed(children.get(at, [])))
    return render_table(PROCESS_HEADERS, rows, PROCESS_RIGHT, width)


def _parent_of(
    ordered: Sequence[dict[str, Any]], holders: dict[Any, list[int]], process: dict[str, Any]
) -> int | None:
    """The index of the process's parent: the last holder of its ppid seen before it."""
    first = _float(process.get("first_seen_s")) or 0.0
    parent = None
    ppid = process.get("ppid")
    for at in holders.get(ppid, ()) if isinstance(ppid, int) else ():
        if (_float(ordered[at].get("first_seen_s")) or 0.0) <= first and ordered[at] is not process:
            parent = at
    return parent


# -- show ---------------------------------------------------------------------------


def summary_lines(summary: dict[str, Any], folder: str, state: str | None = None) -> list[str]:
    """The summary as aligned ``label: value`` lines, where and what first."""
    s = summary
    rows = [
        ("Session", _text(s.get("session_id"))),
        ("Folder", folder),
        ("Command", _text(s.get("skill_command"))),
        *([("Job", _text(s.get("job")))] if s.get("job") else []),
        ("Directory", _text(s.get("cwd"))),
        ("Started", short_time(s.get("start_ts")) + " UTC"),
        *summary_rows(s, state),
    ]
    tools = tools_text(s)
    if tools is not None:
        rows.append(("Tools", tools))
    width = max(len(label) for label, _ in rows)
    return [f"{label + ':':<{width + 1}} {value}" for label, value in rows]


def anomaly_lines(anomalies: Sequence[dict[str, Any]], width: int) -> list[str]:
    """One line per anomaly: when, severity, kind, pid and detail."""
    lines = []
    for anomaly in anomalies:
        when, severity, kind, pid, detail = anomaly_cells(anomaly)
        line = f"  {when:>9}  {severity:<8}  {kind:<18}  pid {pid:<7} {detail}"
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
        lines.extend(f"  {sentence}" for sentence in regression_sentences(anomalies))
    for section in usage_sections(summary):
        lines.extend(section.text(width))
    lines.append("")
    lines.append(f"Over time ({len(series)} snapshots, whole process tree):")
    lines.extend(chart_lines(series, [a.get("seq") for a in anomalies], width))
    return lines


# -- Markdown (show --markdown, $GITHUB_STEP_SUMMARY) ---------------------------------

MARKDOWN_MAX_ANOMALIES = 20
MARKDOWN_TOP = 3  # processes and tool calls in the report


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or inline code."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def markdown_lines(summary: dict[str, Any], anomalies: Sequence[dict[str, Any]]) -> list[str]:
    """The summary's rows as a Markdown table under the command, then tools and anomalies."""
    s = summary
    icon = "✅" if s.get("success") is True else "❌"
    command = shorten(_text(s.get("skill_command")), 200)
    heading = command.replace("`", "'").replace("\n", " ")  # a heading is not a table cell
    session = _md(_text(s.get("dir_name") or s.get("session_id")))
    lines = [f"### {icon} `{heading}`", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {_md(value)} |" for label, value in summary_rows(s)]
    lines.append(f"| Session | `{session}` on {_md(_text(s.get('hostname')))} |")
    tools = tools_text(s)
    if tools is not None:
        lines += ["", f"Tools: {_md(tools)}"]
    regressions = regression_sentences(anomalies)
    if regressions:
        lines += ["", *(f"⚠️ {_md(sentence)}  " for sentence in regressions)]
    for section in usage_sections(s, MARKDOWN_TOP):
        lines.extend(section.markdown())
    if anomalies:
        lines += ["", f"**Anomalies ({len(anomalies)})**", ""]
        lines += ["| time | severity | kind | pid | detail |", "|---|---|---|---|---|"]
        for anomaly in anomalies[:MARKDOWN_MAX_ANOMALIES]:
            when, severity, kind, pid, detail = anomaly_cells(anomaly)
            lines.append(
                f"| {when} | {_md(severity)} | {_md(kind)} | {pid} | {_md(shorten(detail, 120))} |"
            )
        if len(anomalies) > MARKDOWN_MAX_ANOMALIES:
            lines.append(f"\n… and {len(anomalies) - MARKDOWN_MAX_ANOMALIES} more")
    return lines
