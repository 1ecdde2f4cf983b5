"""The page of one session: header, charts on one time axis, the agent's lane, tables.

One self-contained file: the style is inline, the charts are SVG drawn by
charts.py, and there is no reference to anything outside the page (no
script, font, image or link to fetch), so it opens offline from a CI
artifact, with JavaScript off.  Every recorded text (command lines, details,
tool inputs) is user data and goes through ``escape``.  Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from autoskillit_trace import __version__
from autoskillit_trace.plot import anomaly_time
from autoskillit_trace.report.calls import CallProcesses
from autoskillit_trace.report.charts import CURSOR_SCRIPT, Event, Line, chart, lane_chart
from autoskillit_trace.report.lane import Span
from autoskillit_trace.report.load import (
    COMMAND_RSS,
    CPU,
    OPEN_FILES,
    PROCESSES,
    TREE_RSS,
    SessionView,
)
from autoskillit_trace.schema import number
from autoskillit_trace.textfmt import human_duration, human_kb, shorten
from autoskillit_trace.views import anomaly_cells, short_time, summary_rows, tools_text

MAX_TABLE_ROWS = 1000
# Exact totals some summaries carry: shown when present, in this order.
TOTALS = {
    "cpu_user_seconds": "CPU time, user",
    "cpu_system_seconds": "CPU time, system",
    "max_process_rss_kb": "Largest process RSS",
}
# (prefix, suffix, label): page_faults_major is "Page faults (major)".
TOTAL_FAMILIES = (("page_faults_", "", "Page faults"), ("fs_", "_blocks", "File-system blocks"))

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px;
       padding: 0 1em; color: #1d232a; background: #fff; }
h1 { font: 600 1.15em ui-monospace, monospace; word-break: break-all; margin: 0 0 .3em; }
h2 { font-size: 1.1em; margin: 1.6em 0 .5em; border-bottom: 1px solid #d8dde3; }
.outcome { font-weight: 600; padding: .1em .5em; border-radius: 3px; display: inline-block; }
.outcome.ok { background: #dcf5e3; color: #17602f; }
.outcome.failed { background: #fde2e1; color: #8c1d18; }
dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr;
           gap: .15em 1em; margin: .6em 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; word-break: break-word; }
@media (max-width: 700px) { dl.facts { grid-template-columns: max-content 1fr; } }
table { border-collapse: collapse; margin: .3em 0; }
th, td { text-align: left; padding: .15em .8em .15em 0; vertical-align: top; }
td.num, th.num { text-align: right; }
table.list th { border-bottom: 1px solid #b9c1ca; }
table.list tr:nth-child(even) td { background: #f4f6f8; }
code, td.code { font-family: ui-monospace, monospace; word-break: break-all; }
svg.chart { width: 100%; height: auto; display: block; margin: .2em 0; }
svg text { font: 11px system-ui, sans-serif; fill: #39424c; }
svg text.title { font-weight: 600; font-size: 12px; }
svg text.ylabel { text-anchor: end; dominant-baseline: middle; }
svg text.tick { text-anchor: middle; }
svg .grid { stroke: #e3e7eb; stroke-width: 1; }
svg path.line { fill: none; stroke-width: 1.5; stroke-linejoin: round; }
.tree { stroke: #1f6fd1; fill: #1f6fd1; } .own { stroke: #10a39a; fill: #10a39a; }
path.own { stroke-dasharray: 5 3; }
.cpu { stroke: #e07b00; fill: #e07b00; } .files { stroke: #7b4fc9; fill: #7b4fc9; }
.procs { stroke: #2d8a3e; fill: #2d8a3e; }
svg text.legend { stroke: none; font-weight: 600; }
g.mark line { stroke-width: 1.5; stroke-dasharray: 3 2; }
g.mark rect.hit { fill: transparent; }
g.mark.warning line { stroke: #e08a00; } g.mark.critical line { stroke: #d12a1f; }
g.mark:hover line { stroke-width: 3; }
rect.turn { fill: #cfdcf0; stroke: #7d97bd; }
g.turn.failed rect.turn { fill: #f6cfcc; stroke: #c0544b; }
rect.tool, g.call rect { fill: #4d6fa8; }
g.call.failed rect.tool { fill: #c0392b; }
g.call:hover rect, g.turn:hover rect { stroke: #111; stroke-width: 1.5; }
svg text.inside, svg text.beside { font-size: 10px; dominant-baseline: auto; }
svg text.inside { fill: #1d232a; }
g.event path { fill: #c0392b; } g.event.retry path { fill: #e08a00; }
.sev-critical { color: #b3261e; font-weight: 600; } .sev-warning { color: #a55e00; }
svg .cursor { stroke: #333; stroke-width: 1; pointer-events: none; visibility: hidden; }
svg text.cursor { stroke: none; text-anchor: middle; font-weight: 600; fill: #111; }
footer { margin-top: 2em; color: #6b7580; font-size: .85em; }
"""


def _e(value: Any) -> str:
    """Any value as escaped text; None is a dash."""
    return "-" if value is None else escape(str(value))


def _float(value: Any) -> float | None:
    found = number(value)
    return None if found is None else float(found)


def cells(markup: Sequence[str], numeric: Sequence[bool], tag: str = "td") -> str:
    """Table cells of markup already escaped; numbers are aligned right."""
    flags = list(numeric) + [False] * (len(markup) - len(numeric))
    return "".join(
        f"<{tag}{' class=num' if n else ''}>{m}</{tag}>" for m, n in zip(markup, flags, strict=True)
    )


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] = ()
) -> str:
    """A list table; cells are already escaped markup."""
    head = cells([escape(h) for h in headers], numeric, "th")
    body = "".join(f"<tr>{cells(row, numeric)}</tr>" for row in rows)
    return f'<table class="list"><tr>{head}</tr>{body}</table>'


def _facts(rows: Iterable[tuple[str, str]]) -> str:
    """Label / value pairs (both plain text), laid out in two columns on a wide screen."""
    pairs = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl class="facts">{pairs}</dl>'


def total_label(key: str) -> str | None:
    """The label of an exact total the summary may carry; None for any other field."""
    if key in TOTALS:
        return TOTALS[key]
    for prefix, suffix, label in TOTAL_FAMILIES:
        if key.startswith(prefix) and key.endswith(suffix) and len(key) > len(prefix + suffix):
            kind = key[len(prefix) : len(key) - len(suffix)].replace("_", " ")
            return f"{label} ({kind})"
    return None


def total_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The exact totals the summary has (CPU seconds, page faults, blocks), in its order."""
    rows = []
    for key, value in summary.items():
        label, amount = total_label(key), _float(value)
        if label is None or amount is None:
            continue
        if key.endswith("_kb"):
            text = human_kb(amount)
        elif key.endswith("_seconds"):
            text = f"{amount:.2f} s"
        else:
            text = f"{amount:,.0f}"
        rows.append((label, text))
    return rows


def _session_text(session_id: str, folder: str) -> str:
    return session_id if session_id == folder else f"{session_id} (folder {folder})"


def header_rows(view: SessionView) -> list[tuple[str, str]]:
    s = view.summary
    rows = [
        ("Session", _session_text(str(s.get("session_id") or view.name), view.name)),
        ("Directory", str(s.get("cwd") or "-")),
        ("Started", f"{short_time(s.get('start_ts'))} UTC"),
        ("Host", str(s.get("hostname") or "-")),
        *(row for row in summary_rows(s, view.state) if row[0] != "Outcome"),  # the badge's
    ]
    procs = s.get("peak_tree_procs")
    if procs is not None:
        rows.append(("Peak processes", str(procs)))
    return rows + total_rows(s)


def anomaly_events(view: SessionView) -> list[Event]:
    """The anomalies as marks on the time axis, hover text: when, kind, severity and detail."""
    events = []
    for anomaly in view.anomalies:
        at = anomaly_time(view.series, anomaly)
        if at is None:
            continue
        when, severity, kind, pid, detail = anomaly_cells(anomaly)
        text = f"{kind} ({severity}) at {when}, pid {pid}\n{detail}"
        events.append(Event(at, severity, text))
    return events


def charts_html(view: SessionView) -> str:
    series, duration = view.series, view.duration
    if not len(series):
        return "<p>No snapshots recorded.</p>"
    xs, values = series.elapsed, series.values
    marks = anomaly_events(view)
    parts = [
        chart(
            "Memory (RSS)",
            "rss",
            "kb",
            [
                Line("whole tree", "tree", xs, values[TREE_RSS]),
                Line("command", "own", xs, values[COMMAND_RSS]),
            ],
            duration,
            marks,
        ),
        chart(
            "CPU % (tree)", "cpu", "percent", [Line("CPU", "cpu", xs, values[CPU])], duration, marks
        ),
        chart(
            "Open files (tree)",
            "files",
            "count",
            [Line("open files", "files", xs, values[OPEN_FILES])],
            duration,
            marks,
        ),
        chart(
            "Processes",
            "procs",
            "count",
            [Line("processes", "procs", xs, values[PROCESSES])],
            duration,
            marks,
        ),
    ]
    if view.lane:
        parts.append(lane_chart(view.lane, duration, marks))
    return "\n".join(parts)


def anomalies_html(view: SessionView) -> str:
    if not view.anomalies:
        return ""
    rows = []
    for anomaly in view.anomalies[:MAX_TABLE_ROWS]:
        when, severity, kind, pid, detail = anomaly_cells(anomaly)
        rows.append(
            (
                _e(when),
                f'<span class="sev-{escape(severity)}">{_e(severity)}</span>',
                _e(kind),
                _e(pid),
                f"<code>{_e(shorten(detail, 400))}</code>",
            )
        )
    more = len(view.anomalies) - MAX_TABLE_ROWS
    tail = f"<p>… and {more} more in anomalies.jsonl</p>" if more > 0 else ""
    table = _table(("time", "severity", "kind", "pid", "detail"), rows, (True, False, False, True))
    return f'<h2 id="anomalies">Anomalies ({len(view.anomalies)})</h2>{table}{tail}'


def processes_html(summary: dict[str, Any]) -> str:
    """The top processes, when the summary lists them."""
    top = summary.get("top_processes")
    if not isinstance(top, list) or not top:
        return ""
    rows = []
    for proc in top:
        if not isinstance(proc, dict):
            continue
        first, last = _float(proc.get("first_seen_s")), _float(proc.get("last_seen_s"))
        cpu = _float(proc.get("cpu_seconds"))
        rows.append(
            (
                _e(proc.get("pid")),
                _e(proc.get("comm")),
                _e(human_kb(_float(proc.get("peak_rss_kb")))),
                _e(f"{cpu:.2f}" if cpu is not None else None),
                _e(f"+{human_duration(first)} to +{human_duration(last)}"),
                f"<code>{_e(shorten(str(proc.get('cmdline') or ''), 300))}</code>",
            )
        )
    headers = ("pid", "comm", "peak RSS", "CPU s", "seen", "command line")
    table = _table(headers, rows, (True, False, True, True))
    return f'<h2 id="processes">Top processes</h2>{table}'


def agent_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    s = summary
    rows = []
    for label, key in (
        ("Agent session", "agent_session_id"),
        ("CLI result", "cli_subtype"),
        ("Error", "is_error"),
        ("Turns (counted)", "agent_turns"),
        ("Turns (CLI)", "num_turns"),
        ("Tool calls", "tool_call_count"),
        ("Failed tool calls", "tool_error_count"),
        ("Input tokens", "input_tokens"),
        ("Output tokens", "output_tokens"),
        ("Cache creation tokens", "cache_creation_input_tokens"),
        ("Cache read tokens", "cache_read_input_tokens"),
    ):
        value = s.get(key)
        if isinstance(value, bool):
            rows.append((label, "yes" if value else "no"))
        elif value is not None:
            rows.append((label, str(value)))
    cost = _float(s.get("total_cost_usd"))
    if cost is not None:
        rows.append(("Cost", f"${cost:.4f}"))
    tools = tools_text(s)
    if tools is not None:
        rows.append(("Tools by name", tools))
    return rows


def calls_html(view: SessionView) -> str:
    """Each tool call: when, name, how long, whether it worked, its input."""
    calls = view.lane.calls
    if not calls:
        return ""
    rows = []
    for call in calls[:MAX_TABLE_ROWS]:
        if isinstance(call, Span):
            start, end, ok = call.start, call.end, call.success
            duration = f"{end - start:.2f}s" if end is not None else "-"
        else:
            start, ok, duration = call.at, None, "-"
        details = dict(call.details)
        rows.append(
            (
                _e(f"+{human_duration(start)}"),
                _e(call.label),
                _e(duration),
                _e("-" if ok is None else "yes" if ok else "no"),
                _e(details.get("turn")),
                f"<code>{_e(shorten(details.get('input', ''), 300))}</code>",
                _e(details.get("processes_started", "-")),
                _e(human_kb(_parsed(details.get("peak_tree_rss_kb")))),
                call_processes_html(view.calls.get(details.get("tool_use_id", ""))),
            )
        )
    headers = (
        "start", "tool", "duration", "ok", "turn", "input", "processes", "peak tree RSS",
        "what ran",
    )  # fmt: skip
    return f"<h3>Tool calls</h3>{_table(headers, rows, (True, False, True))}"


def _parsed(text: str | None) -> float | None:
    """A number a call's details hold as text (the lane keeps them for its hover)."""
    try:
        return _float(json.loads(text)) if text is not None else None
    except ValueError:
        return None


def call_processes_html(found: CallProcesses | None) -> str:
    """The command lines of the processes first seen under a call, the first few."""
    if found is None:
        return ""
    shown = "<br>".join(f"<code>{_e(shorten(text, 120))}</code>" for text in found.commands)
    more = found.count - len(found.commands)
    return shown + (f"<br>and {more} more" if more > 0 else "")


def agent_html(view: SessionView) -> str:
    rows = agent_rows(view.summary)
    if not rows and not view.lane:
        return ""
    return f'<h2 id="agent">Agent</h2>{_facts(rows)}{calls_html(view)}'


def render(view: SessionView, back: str | None = None) -> str:
    """The whole page of one session; ``back``: a relative link to the page listing it."""
    s = view.summary
    command = str(s.get("skill_command") or "")
    ok = s.get("success") is True
    outcome = view.state or (
        f"{s.get('subtype') or '-'} (exit {s.get('exit_code', '-')}): "
        f"{s.get('termination_reason') or '-'}"
    )
    data = {"peak_tree_rss_kb": s.get("peak_tree_rss_kb"), "peak_rss_kb": s.get("peak_rss_kb")}
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(shorten(command, 80) or view.name)} · autoskillit-trace</title>",
            f"<style>{STYLE}</style></head>",
            f'<body data-session="{escape(view.name)}" data-duration="{view.duration:.6f}" '
            f'data-summary="{escape(json.dumps(data))}">',
            f'<nav><a href="{escape(back)}">all sessions</a></nav>' if back else "",
            f"<header><h1>{escape(command) or '(no command)'}</h1>",
            f'<p class="outcome {"ok" if ok else "failed"}">{escape(outcome)}</p>',
            _facts(header_rows(view)),
            "</header>",
            f'<h2 id="charts">Over time ({len(view.series)} snapshots)</h2>',
            charts_html(view),
            anomalies_html(view),
            agent_html(view),
            processes_html(s),
            f"<script>{CURSOR_SCRIPT}</script>" if len(view.series) else "",
            f"<footer>autoskillit-trace {escape(__version__)} · session folder "
            f"{escape(view.name)}</footer>",
            "</body></html>",
            "",
        ]
    )
