"""``autoskillit-trace config show``: each effective setting, where it came from, what it is."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from autoskillit_trace.commands.common import terminal_width, write_lines
from autoskillit_trace.config import Resolved, current_dir, describe, load, log_root

HELP_MIN = 20  # columns a setting's help needs to say anything
SOURCE_COLUMN = 28  # sources up to this wide share one column: (command line --interval)


def config_record(resolved: Resolved, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``--json`` object: settings with their sources, the log root, the files read."""
    return {
        "settings": describe(resolved),
        "log_root": log_root(resolved.settings, env),
        "user_file": resolved.user_file,
        "user_file_exists": os.path.exists(resolved.user_file),
        "project_file": resolved.project_file,
    }


def config_lines(record: dict[str, Any], width: int | None = None) -> list[str]:
    """``key  value  (source)  what it is`` rows, then the log root and the files looked at.

    What a setting is (its help) starts in one column for sources up to
    ``SOURCE_COLUMN`` wide; a longer source (a file's path) pushes only its
    own row's help further.  On a terminal of ``width`` columns the help is
    cut to fit, and left out where fewer than ``HELP_MIN`` would be left for
    it; ``--json`` and a pipe have it whole.
    """
    rows = record["settings"]
    key_width = max(len("project file"), *(len(str(row["key"])) for row in rows))
    values = [json.dumps(row["value"]) for row in rows]
    value_width = max(len(v) for v in values)
    sources = [f"({row['source']})" for row in rows]
    column = key_width + value_width + min(SOURCE_COLUMN, max(len(s) for s in sources)) + 6
    lines = []
    for row, value, source in zip(rows, values, sources, strict=True):
        line = f"{row['key']:<{key_width}}  {value:<{value_width}}  {source}"
        line = f"{line:<{column - 2}}  "
        what = row.get("help") or ""
        room = None if width is None else width - len(line)  # None: a pipe, whole
        if room is not None and room < HELP_MIN:
            what = ""
        elif room is not None and len(what) > room:
            what = what[: room - 1] + "\u2026"
        lines.append((line + what).rstrip())
    user = record["user_file"] + ("" if record["user_file_exists"] else " (not present)")
    lines.append("")
    lines.append(f"{'log root':<{key_width}}  {record['log_root']}")
    lines.append(f"{'user file':<{key_width}}  {user}")
    lines.append(f"{'project file':<{key_width}}  {record['project_file'] or '(none found)'}")
    return lines


def run_config_show(as_json: bool, overrides: dict[str, tuple[str, object]]) -> int:
    """Load the settings as ``run`` does (same validation, same errors) and print them."""
    env = dict(os.environ)
    record = config_record(load(current_dir(), env, overrides), env)
    if as_json:
        write_lines([json.dumps(record, indent=2)])
    else:
        on_terminal = sys.stdout.isatty() or "COLUMNS" in env
        write_lines(config_lines(record, terminal_width() if on_terminal else None))
    return 0
