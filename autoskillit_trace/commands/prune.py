"""``autoskillit-trace prune``: finalize crashed sessions, then apply retention.

Made for cron and CI: no prompt, nothing on stdout unless asked (``--json``,
``--dry-run``), one structured log line on stderr when something was done.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from autoskillit_trace.commands.common import error, settings_and_root, write_lines
from autoskillit_trace.log import make_logger
from autoskillit_trace.store.layout import StoreError
from autoskillit_trace.store.retention import PruneReport
from autoskillit_trace.textfmt import human_bytes


@dataclass(frozen=True)
class PruneArgs:
    keep: int | None  # None: max_sessions from the settings
    older_than_s: float | None
    dry_run: bool = False
    as_json: bool = False
    log_dir: str | None = None
    log_format: str = "auto"
    quiet: bool = False


def report_record(
    report: PruneReport, recovered: list[str], keep: int, older_than_s: float | None, root: str
) -> dict[str, Any]:
    """The ``--json`` report (and the fields of the log line)."""
    return {
        "log_root": root,
        "dry_run": report.dry_run,
        "keep": keep,
        "older_than_seconds": older_than_s,
        "sessions_before": report.sessions_before,
        "sessions_removed": len(report.removed),
        "sessions_after": report.sessions_before - len(report.removed),
        "bytes_freed": report.bytes_freed,
        "removed": report.removed,
        "crashed_recovered": recovered,
    }


def dry_run_lines(record: dict[str, Any]) -> list[str]:
    lines = [f"would finalize crashed session {name}" for name in record["crashed_recovered"]]
    lines += [f"would remove {name}" for name in record["removed"]]
    lines.append(
        f"would remove {record['sessions_removed']} of {record['sessions_before']} sessions, "
        f"freeing {human_bytes(record['bytes_freed'])}"
    )
    return lines


def run_prune(args: PruneArgs) -> int:
    resolved, root = settings_and_root(args.log_dir)
    keep = resolved.settings.max_sessions if args.keep is None else args.keep
    log = make_logger(args.log_format, args.quiet)
    try:
        if not os.path.isdir(root.sessions):
            if os.path.lexists(root.path):
                os.listdir(root.path)  # a file, or a folder we may not read: say so
            report, recovered = PruneReport(dry_run=args.dry_run), []
        else:
            recovered = root.orphans() if args.dry_run else root.recover_orphans()
            report = root.prune(keep, args.older_than_s, dry_run=args.dry_run)
    except (OSError, StoreError) as exc:
        error(f"prune of {root.path} failed: {getattr(exc, 'strerror', None) or exc}")
        return 1
    record = report_record(report, recovered, keep, args.older_than_s, root.path)
    if args.as_json:
        write_lines([json.dumps(record)])
    elif args.dry_run:
        write_lines(dry_run_lines(record))
    if report.removed or recovered:
        fields = {k: v for k, v in record.items() if k not in ("removed", "crashed_recovered")}
        log.info(
            "prune dry run" if args.dry_run else "prune finished",
            crashed_recovered=len(recovered),
            **fields,
        )
    return 0
