"""The processes behind each tool call, from processes.jsonl, for the report's table.

A process line names the call it was first seen under (``tool_use_id``, or
``tool_use_ids`` when several were open).  Kept per call: how many, and the
command lines of the first few, so a session of thousands of processes costs
a few lines per call.  Pure: lines in, a mapping out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KEPT = 3  # command lines kept per call


class CallProcesses:
    """How many processes a call started (seen by a snapshot) and the first ``KEPT``."""

    __slots__ = ("commands", "count")

    def __init__(self) -> None:
        self.count = 0
        self.commands: list[str] = []


def processes_by_call(lines: Iterable[dict[str, Any] | None]) -> dict[str, CallProcesses]:
    """tool_use_id -> the processes first seen under it, in processes.jsonl's order."""
    found: dict[str, CallProcesses] = {}
    for line in lines:
        if not isinstance(line, dict):
            continue
        ids = line.get("tool_use_ids")
        calls = ids if isinstance(ids, list) else [line.get("tool_use_id")]
        text = line.get("cmdline") or line.get("comm")
        for call in calls:
            if not isinstance(call, str):
                continue
            entry = found.get(call)
            if entry is None:
                entry = found[call] = CallProcesses()
            entry.count += 1
            if isinstance(text, str) and len(entry.commands) < KEPT:
                entry.commands.append(text)
    return found
