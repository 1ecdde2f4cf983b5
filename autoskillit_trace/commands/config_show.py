"""``autoskillit-trace config show``: each effective setting and where it came from."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from autoskillit_trace.commands.common import write_lines
from autoskillit_trace.config import Resolved, current_dir, describe, load, log_root


def config_record(resolved: Resolved, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``--json`` object: settings with their sources, the log root, the files read."""
    return {
        "settings": describe(resolved),
        "log_root": log_root(resolved.settings, env),
        "user_file": resolved.user_file,
        "user_file_exists": os.path.exists(resolved.user_file),
        "project_file": resolved.project_file,
    }


def config_lines(record: dict[str, Any]) -> list[str]:
    """``key  value  (source)`` rows, then the log root and the files looked at."""
    rows = record["settings"]
    width = max(len("project file"), *(len(str(row["key"])) for row in rows))
    values = [json.dumps(row["value"]) for row in rows]
    value_width = max(len(v) for v in values)
    lines = [
        f"{row['key']:<{width}}  {value:<{value_width}}  ({row['source']})"
        for row, value in zip(rows, values, strict=True)
    ]
    user = record["user_file"] + ("" if record["user_file_exists"] else " (not present)")
    lines.append("")
    lines.append(f"{'log root':<{width}}  {record['log_root']}")
    lines.append(f"{'user file':<{width}}  {user}")
    lines.append(f"{'project file':<{width}}  {record['project_file'] or '(none found)'}")
    return lines


def run_config_show(as_json: bool, overrides: dict[str, tuple[str, object]]) -> int:
    """Load the settings as ``run`` does (same validation, same errors) and print them."""
    env = dict(os.environ)
    record = config_record(load(current_dir(), env, overrides), env)
    write_lines([json.dumps(record, indent=2)] if as_json else config_lines(record))
    return 0
