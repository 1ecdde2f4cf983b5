"""``autoskillit-trace ls``: sessions from the index, newest first.

The index is read backwards from its end, so listing the newest few costs the
same whatever the length of the history.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from autoskillit_trace.commands.common import settings_and_root, terminal_width, warn, write_lines
from autoskillit_trace.selection import SessionFilter
from autoskillit_trace.store.index import field_needle, newest_records
from autoskillit_trace.views import ls_table

TERMINAL_LIMIT = 20


@dataclass(frozen=True)
class LsArgs:
    filter: SessionFilter
    limit: int | None = None  # None: 20 on a terminal, all otherwise; 0: all
    as_json: bool = False
    log_dir: str | None = None


@dataclass
class Newest:
    records: list[dict[str, Any]]
    skipped: int = 0


def newest(index: str, keep: SessionFilter, limit: int) -> Newest:
    """Up to ``limit`` (0: all) matching records, newest first; broken lines are counted.

    One record per session folder (see ``store.index.newest_records``).
    """
    needle = field_needle("job", keep.job) if keep.job is not None else None
    records, skipped = newest_records(index, keep.matches, limit, needle)
    return Newest(records, skipped)


def run_ls(args: LsArgs) -> int:
    _, root = settings_and_root(args.log_dir)
    terminal = sys.stdout.isatty()
    limit = args.limit
    if limit is None:
        limit = TERMINAL_LIMIT if terminal and not args.as_json else 0
    found = newest(root.index, args.filter, limit)
    if found.skipped:
        warn(f"skipped {found.skipped} line(s) of {root.index} that are not valid JSON")
    if args.as_json:
        write_lines(json.dumps(r, separators=(",", ":")) for r in found.records)
    elif found.records:
        width = terminal_width() if terminal else 1 << 20
        write_lines(ls_table(found.records, width))
    elif terminal:
        sys.stderr.write(f"no sessions found in {root.index}\n")
    return 0
