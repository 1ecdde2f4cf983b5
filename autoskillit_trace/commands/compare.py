"""``autoskillit-trace compare A [B]``: two sessions side by side, or one against the usual."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoskillit_trace.commands.common import error, settings_and_root, terminal_width, write_lines
from autoskillit_trace.commands.show import find_session, not_found_message
from autoskillit_trace.comparison import baseline_record, compare, compare_lines
from autoskillit_trace.regress import comparable
from autoskillit_trace.store.index import job_runs
from autoskillit_trace.store.layout import SUMMARY, read_json_object
from autoskillit_trace.store.root import LogRoot

DEFAULT_RUNS = 20


@dataclass(frozen=True)
class CompareArgs:
    a: str
    b: str | None = None  # None: A against the median of its job's runs
    as_json: bool = False
    log_dir: str | None = None


class NotComparable(Exception):
    """Why a comparison cannot be made: one line, exit status 1."""


def finished_summary(root: LogRoot, query: str) -> dict[str, Any]:
    """The summary of the session ``query`` names (as ``show`` resolves it)."""
    resolution = find_session(root, query)
    if resolution.match is None:
        raise NotComparable(not_found_message(query, resolution.candidates, root.sessions))
    path = Path(root.sessions, resolution.match.dir_name, SUMMARY)
    summary = read_json_object(path)
    if summary is None:
        name = resolution.match.dir_name
        if path.exists():  # damaged, or not ours to read
            raise NotComparable(
                f"{path} cannot be read as a summary (prune rebuilds a damaged one)"
            )
        raise NotComparable(f"{name} has no summary yet (see 'show')")
    return summary


def usual_of(root: LogRoot, summary: dict[str, Any], runs: int) -> dict[str, Any]:
    """The median of the latest successful runs of ``summary``'s job, itself left out."""
    job = summary.get("job")
    if not isinstance(job, str) or not job:
        raise NotComparable(f"{summary.get('dir_name')} has no job to compare it with")
    name = summary.get("dir_name")
    found = job_runs(root.index, job, runs, lambda r: comparable(r) and r.get("dir_name") != name)
    if not found:
        raise NotComparable(f"no other successful run of the job {job!r} to compare with")
    return baseline_record(found, job)


def run_compare(args: CompareArgs) -> int:
    resolved, root = settings_and_root(args.log_dir)
    try:
        a = finished_summary(root, args.a)
        if args.b is not None:
            record = compare(a, finished_summary(root, args.b))
        else:  # the usual first, the session second: B/A is how far it is from the usual
            usual = usual_of(root, a, resolved.settings.regression_runs or DEFAULT_RUNS)
            record = compare(usual, a)
    except NotComparable as exc:
        error(str(exc))
        return 1
    if args.as_json:
        write_lines([json.dumps(record, indent=2)])
    else:
        write_lines(compare_lines(record, terminal_width()))
    return 0
