"""``autoskillit-trace show SESSION``: one session's summary, anomalies and charts."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoskillit_trace.commands.common import (
    error,
    settings_and_root,
    terminal_width,
    warn,
    write_lines,
)
from autoskillit_trace.fsutil import try_lock
from autoskillit_trace.jsonl import iter_file, iter_lines_reversed, parse_line
from autoskillit_trace.selection import Candidate, Resolution, resolve
from autoskillit_trace.series import read_series
from autoskillit_trace.store.layout import (
    ANOMALIES,
    PROCESSES,
    SUMMARY,
    TRACE,
    read_json_object,
    trace_header,
)
from autoskillit_trace.store.root import LogRoot
from autoskillit_trace.timeutil import parse_iso
from autoskillit_trace.views import markdown_lines, show_text

MAX_LISTED = 10


@dataclass(frozen=True)
class ShowArgs:
    session: str
    as_json: bool = False
    plot: Path | None = None
    log_dir: str | None = None
    markdown: bool = False
    processes: bool = False


def session_id_of(folder: Path) -> str:
    """The id the session was started with: its trace's first line, else the folder name."""
    first = trace_header(folder)
    value = first.get("session_id") if first else None
    return value if isinstance(value, str) else folder.name


def agent_sessions(index: str, agent_id: str) -> dict[str, float | None]:
    """The folders whose index line has ``agent_id`` as ``agent_session_id``, and their start.

    Only lines that hold the id as written in JSON are parsed, so a long index
    costs a byte search.
    """
    found: dict[str, float | None] = {}
    needle = json.dumps(agent_id)[1:-1].encode()
    try:
        lines = iter_lines_reversed(index)
    except FileNotFoundError:
        return found
    with contextlib.closing(lines):
        for line in lines:
            record = parse_line(line) if needle in line else None
            if record is None or record.get("agent_session_id") != agent_id:
                continue
            name, start = record.get("dir_name"), record.get("start_ts")
            if isinstance(name, str) and name not in found:  # the newest line of a folder
                found[name] = parse_iso(start) if isinstance(start, str) else None
    return found


def candidates(root: LogRoot, query: str) -> list[Candidate]:
    """Every session folder, with the agent session id when it is ``query``."""
    agents = agent_sessions(root.index, query) if query else {}
    return [
        Candidate(f.name, session_id_of(f), query if f.name in agents else None, agents.get(f.name))
        for f in map(Path, root.session_dirs())
    ]


def find_session(root: LogRoot, query: str) -> Resolution:
    """The session SESSION names, for every command that takes one.

    An agent's session id recorded by several sessions means the newest; a
    warning names the others.
    """
    resolution = resolve(query, candidates(root, query))
    match, found = resolution.match, resolution.candidates
    if match is not None and len(found) > 1:
        others = ", ".join(c.dir_name for c in found if c is not match)
        warn(
            f"agent session {query!r} was recorded by {len(found)} sessions; "
            f"showing the newest, {match.dir_name} (others: {others})"
        )
    return resolution


def not_found_message(query: str, found: tuple[Candidate, ...], where: str) -> str:
    if not found:
        return f"no session matches {query!r} in {where} (see 'autoskillit-trace ls')"
    names = ", ".join(c.dir_name for c in found[:MAX_LISTED])
    more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
    return f"{query!r} matches {len(found)} sessions: {names}{more}; type more of the name"


def read_anomalies(folder: Path) -> list[dict[str, Any]]:
    try:
        return [r for r in iter_file(folder / ANOMALIES) if r is not None]
    except FileNotFoundError:
        return []


def unfinished_state(folder: Path) -> str:
    """Why a folder has no summary: its wrapper still runs, was lost, or it was damaged."""
    fd = try_lock(folder / TRACE)
    if fd is None:
        return "running (no summary yet)"
    os.close(fd)
    if (folder / SUMMARY).exists():
        return "summary.json cannot be read; 'autoskillit-trace prune' rebuilds it"
    return "unfinished: the wrapper was lost; 'autoskillit-trace prune' finalizes it"


def _a_pid(value: object) -> bool:
    """A process line names its process by an integer pid (others are not lines of ours)."""
    return isinstance(value, int) and not isinstance(value, bool)


def show_processes(folder: Path) -> int:
    """``show --processes``: the tree of every process the session's snapshots saw."""
    try:
        processes = [r for r in iter_file(folder / PROCESSES) if r and _a_pid(r.get("pid"))]
    except FileNotFoundError:
        processes = []
    if not processes:
        write_lines([f"no process recorded in {folder} (no {PROCESSES}: none was seen yet)"])
        return 0
    from autoskillit_trace.views import process_tree_lines

    write_lines(process_tree_lines(processes, terminal_width()))
    return 0


def run_show(args: ShowArgs) -> int:
    if args.plot is not None:
        from autoskillit_trace.plot import PlotUnavailable, require_matplotlib

        try:
            require_matplotlib()  # before any work: the fix is an install
        except PlotUnavailable as exc:
            error(str(exc))
            return 2
    _, root = settings_and_root(args.log_dir)
    resolution = find_session(root, args.session)
    if resolution.match is None:
        error(not_found_message(args.session, resolution.candidates, root.sessions))
        return 1
    folder = Path(root.sessions, resolution.match.dir_name)
    if args.processes:
        return show_processes(folder)
    summary = read_json_object(folder / SUMMARY)
    series = None
    state = None
    text_wanted = not (args.as_json or args.markdown)
    if summary is None or text_wanted or args.plot is not None:
        series = read_series(folder / TRACE)
    if summary is None:
        assert series is not None
        summary = dict(series.header or {"session_id": resolution.match.session_id})
        summary["snapshot_count"] = len(series)
        state = unfinished_state(folder)
    anomalies = read_anomalies(folder)
    if args.as_json:
        record = {"folder": str(folder), "state": state, "summary": summary}
        write_lines([json.dumps({**record, "anomalies": anomalies}, indent=2, default=str)])
    elif args.markdown:
        lines = markdown_lines(summary, anomalies)
        write_lines(lines if state is None else [*lines, "", f"_{state}_"])
    else:
        assert series is not None
        write_lines(show_text(summary, str(folder), anomalies, series, terminal_width(), state))
    if args.plot is not None:
        from autoskillit_trace.plot import draw

        assert series is not None
        title = f"{resolution.match.dir_name}: {summary.get('skill_command') or ''}"
        try:
            draw(series, anomalies, title[:120], args.plot)
        except OSError as exc:
            error(f"cannot write {args.plot}: {exc.strerror or exc}")
            return 1
        sys.stderr.write(f"chart written to {args.plot}\n")
    return 0
