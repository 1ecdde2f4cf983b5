"""``autoskillit-trace trend NAME``: a job over its runs, regressions marked."""

from __future__ import annotations

import json
from dataclasses import dataclass

from autoskillit_trace.commands.common import error, settings_and_root, terminal_width, write_lines
from autoskillit_trace.store.index import job_runs
from autoskillit_trace.trend import trend_lines, trend_record


@dataclass(frozen=True)
class TrendArgs:
    job: str
    limit: int = 50  # the newest runs shown (0: all)
    as_json: bool = False
    log_dir: str | None = None


def run_trend(args: TrendArgs) -> int:
    _, root = settings_and_root(args.log_dir)
    runs = list(reversed(job_runs(root.index, args.job, args.limit)))  # oldest first
    if not runs:
        error(f"no runs of the job {args.job!r} in {root.index} (see 'ls --json | jq .job')")
        return 1
    record = trend_record(args.job, runs)
    if args.as_json:
        write_lines([json.dumps(record, indent=2)])
    else:
        write_lines(trend_lines(record, runs, terminal_width()))
    return 0
