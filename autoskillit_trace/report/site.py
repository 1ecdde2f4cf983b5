"""``report --out DIR``: a static site of the store, rebuilt only where something changed.

``DIR/index.html`` lists the sessions newest first and links each to
``DIR/sessions/<folder>.html`` (see ``page_name`` for folder names that are
no plain text).  A page newer than every file of its session folder is kept
as it is; pages of sessions no longer in the store are
removed; the index is rewritten only when its text changes.  Pages drawn by
another version of the tool are all drawn again.  An unfinished session has
no summary to compare with and is always drawn again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autoskillit_trace import __version__
from autoskillit_trace.events import EVENTS
from autoskillit_trace.export import write_readable
from autoskillit_trace.report.html import STYLE, cells
from autoskillit_trace.report.page import write_report
from autoskillit_trace.schema import number
from autoskillit_trace.selection import peak_rss_kb
from autoskillit_trace.store.layout import ANOMALIES, PROCESSES, SUMMARY, TRACE, read_json_object
from autoskillit_trace.textfmt import human_duration, human_kb
from autoskillit_trace.views import short_time

PAGES = "sessions"
INDEX = "index.html"
PAGE_STEM_MAX = 200  # with ".html" and the staged name's affixes, under NAME_MAX (255 bytes)
GENERATOR = ".generator"  # the version that drew the pages: another one draws them all again
SOURCES = (SUMMARY, TRACE, EVENTS, ANOMALIES, PROCESSES)  # what a page is drawn from

INDEX_STYLE = """
#sessions td:not(:last-child) { white-space: nowrap; }
#sessions tr[data-failed="1"] td:nth-child(4) { color: #8c1d18; font-weight: 600; }
body { max-width: none; }
"""

FILTER_SCRIPT = """
(function () {
  var failed = document.getElementById("only-failed");
  var anomalies = document.getElementById("only-anomalies");
  var shown = document.getElementById("shown");
  function apply() {
    var count = 0;
    document.querySelectorAll("tr[data-session]").forEach(function (row) {
      var keep = (!failed.checked || row.dataset.failed === "1") &&
                 (!anomalies.checked || row.dataset.anomalies === "1");
      row.hidden = !keep;
      if (keep) { count += 1; }
    });
    shown.textContent = String(count);
  }
  failed.addEventListener("change", apply);
  anomalies.addEventListener("change", apply);
  apply();
})();
"""


@dataclass(frozen=True)
class Built:
    """What a build did: pages written, pages kept as they were, pages removed."""

    written: int
    kept: int
    removed: int
    index_changed: bool


def newest_change(folder: Path) -> float | None:
    """The latest modification time of the session's files; None when it has no summary."""
    times = []
    for name in SOURCES:
        try:
            times.append(os.stat(folder / name).st_mtime_ns)
        except FileNotFoundError:
            if name == SUMMARY:
                return None
    return max(times) / 1e9 if times else None


def up_to_date(folder: Path, page: Path) -> bool:
    """The page is newer than every file of its (finished) session."""
    changed = newest_change(folder)
    try:
        return changed is not None and os.stat(page).st_mtime_ns / 1e9 > changed
    except FileNotFoundError:
        return False


def page_name(folder_name: str) -> str:
    """The file name of a session's page in ``sessions/``: plain ASCII, always in that folder.

    A session id ([A-Za-z0-9._-]) is its own name.  Every other byte of the
    folder's name (a space, a newline, a byte that is not UTF-8) is written
    %XX, so distinct folders have distinct pages.  A name too long for a file
    is cut and ends in a digest of the whole.
    """
    raw = os.fsencode(folder_name)
    stem = quote(raw, safe="")
    if len(stem) > PAGE_STEM_MAX:
        cut = stem[: PAGE_STEM_MAX - 17]
        cut = cut[: cut.rfind("%")] if "%" in cut[-2:] else cut  # no %X left half
        stem = f"{cut}-{hashlib.sha256(raw).hexdigest()[:16]}"
    return f"{stem}.html"


def build_site(session_dirs: Iterable[str], out: Path) -> Built:
    """Write the site of these session folders into ``out`` (which exists)."""
    pages = out / PAGES
    pages.mkdir(exist_ok=True)
    same_version = _read(out / GENERATOR) == __version__.encode()
    written = kept = 0
    rows: list[dict[str, Any]] = []
    for folder in map(Path, session_dirs):
        page = pages / page_name(folder.name)
        summary = read_json_object(folder / SUMMARY)
        if summary is not None and same_version and up_to_date(folder, page):
            kept += 1
        else:
            view = write_report(folder, page, back=f"../{INDEX}")
            summary = {**view.summary, "state": view.state}
            written += 1
        rows.append({**summary, "dir_name": folder.name})
    removed = _remove_stale(pages, {page_name(str(r["dir_name"])) for r in rows})
    rows.sort(key=lambda r: str(r.get("start_ts") or ""), reverse=True)
    index = index_html(rows).encode("utf-8", "backslashreplace")
    index_path = out / INDEX
    changed = _read(index_path) != index
    if changed:
        write_readable(index_path, index)
    if not same_version:
        write_readable(out / GENERATOR, __version__.encode())
    return Built(written, kept, removed, changed)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _remove_stale(pages: Path, wanted: set[str]) -> int:
    """Delete the pages of sessions that are gone from the store."""
    removed = 0
    for entry in os.scandir(pages):
        if entry.name.endswith(".html") and entry.name not in wanted and entry.is_file():
            os.unlink(entry.path)
            removed += 1
    return removed


NUMERIC = (False, False, True, False, True, True, True, False)


def _cells(record: dict[str, Any]) -> list[str]:
    """An index row's cells, escaped markup."""
    name = str(record["dir_name"])
    link = f'<a href="{PAGES}/{escape(quote(page_name(name)))}">{escape(name)}</a>'
    state = record.get("state")
    outcome = state or f"{record.get('subtype') or '-'} (exit {record.get('exit_code', '-')})"
    duration = number(record.get("duration_seconds"))
    turns = record.get("agent_turns") or record.get("num_turns")
    return [
        link,
        escape(short_time(record.get("start_ts"))),
        escape(human_duration(None if duration is None else float(duration))),
        escape(str(outcome)),
        escape(human_kb(peak_rss_kb(record))),
        escape(str(record.get("anomaly_count", "-"))),
        escape("-" if turns is None else str(turns)),
        f"<code>{escape(str(record.get('skill_command') or ''))}</code>",
    ]


def _row(record: dict[str, Any]) -> str:
    failed = "0" if record.get("success") is True and not record.get("state") else "1"
    flagged = "1" if number(record.get("anomaly_count")) else "0"
    return (
        f'<tr data-session="{escape(str(record["dir_name"]))}" data-failed="{failed}" '
        f'data-anomalies="{flagged}">{cells(_cells(record), NUMERIC)}</tr>'
    )


def index_html(records: Sequence[dict[str, Any]]) -> str:
    """The index page: one row per session as given (newest first), filters on top."""
    headers = ("session", "start (UTC)", "duration", "outcome", "peak RSS", "anomalies", "turns",
               "command")  # fmt: skip
    head = cells([escape(h) for h in headers], NUMERIC, "th")
    rows = "\n".join(_row(r) for r in records)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Sessions · autoskillit-trace</title>",
            f"<style>{STYLE}{INDEX_STYLE}</style></head><body>",
            f"<h1>Sessions ({len(records)})</h1>",
            '<p><label><input type="checkbox" id="only-failed"> failed only</label> '
            '<label><input type="checkbox" id="only-anomalies"> with anomalies only</label> '
            f'· showing <span id="shown">{len(records)}</span></p>',
            f'<table class="list" id="sessions"><tr>{head}</tr>',
            rows,
            "</table>",
            f"<script>{FILTER_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )
