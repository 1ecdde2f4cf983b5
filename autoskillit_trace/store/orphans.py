"""Orphans: sessions whose wrapper is gone before finishing, found and finalized.

A running session holds an exclusive ``flock`` on its ``proc_trace.jsonl``
from creation (the file is locked before it gets its name) until its
summary is published.  The kernel drops the lock when the wrapper dies in
any way (SIGKILL, OOM killer, reboot), so "lock free and no summary.json"
means crashed, without guessing from pids.

One index line per session, always: a line is appended only for a session
that has none.  A summary.json lost or damaged after it was published is
rebuilt from the session's index line and its trace, and the index is left
as it is.  The running markers let ``run`` look at the few unfinished
sessions, not at the whole store; ``prune`` still looks at every folder.
"""

from __future__ import annotations

import os
import time

from autoskillit_trace.events import EVENTS
from autoskillit_trace.fsutil import (
    mtime,
    remove_temporaries,
    try_lock,
    unlink_quietly,
    write_atomic,
)
from autoskillit_trace.jsonl import iter_file
from autoskillit_trace.store.index import append_index, find_index_line
from autoskillit_trace.store.layout import (
    ANOMALIES,
    PENDING,
    PROCESSES,
    SUMMARY,
    TRACE,
    has_summary,
    read_json_object,
    text,
    trace_header,
)
from autoskillit_trace.store.publish import finish, publish, summary_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from autoskillit_trace.recovery import Replay
    from autoskillit_trace.store.layout import Layout

# A folder with no trace file yet is a session being set up, for this long.
STARTING_GRACE_S = 60.0


def orphans(root: Layout) -> list[str]:
    """Folder names of sessions whose wrapper is gone before finishing (read-only)."""
    found: list[str] = []
    for folder in root.session_dirs():
        lock_fd = _lock_unfinished(folder)
        if lock_fd is not None:
            os.close(lock_fd)
            found.append(os.path.basename(folder))
    return found


def recover_orphans(root: Layout, marked_only: bool = False) -> list[str]:
    """Finalize sessions whose wrapper is gone; returns their folder names.

    Every folder is looked at, or with ``marked_only`` only those with a
    running marker (what ``run`` does: the unfinished ones, however large
    the store); stale markers are removed on the way.

    The crashed summary is built from the streamed trace while this process
    holds the folder's lock, so two recoverers never finalize the same
    session.  A session that died while publishing its own summary is
    completed with that summary instead, and one that has its index line
    gets its summary.json rebuilt from it: never a second line.
    """
    recovered: list[str] = []
    for folder in _marked(root) if marked_only else root.session_dirs():
        lock_fd = _lock_unfinished(folder)
        if lock_fd is None:
            continue
        try:
            if has_summary(folder):
                continue  # another recoverer was first
            remove_temporaries(folder)  # a writer died inside write_atomic
            _complete(root, folder)
            recovered.append(os.path.basename(folder))
        finally:
            os.close(lock_fd)
    return recovered


def _complete(root: Layout, folder: str) -> None:
    """Give a session whose wrapper is gone its summary.json, and its index line
    if it has none; the caller holds the session's lock."""
    from autoskillit_trace.summary import index_record

    name = os.path.basename(folder)
    pending = read_json_object(os.path.join(folder, PENDING))
    if pending is not None:  # died while publishing its own summary
        if find_index_line(root, name, text(pending, "start_ts")) is None:
            append_index(root, index_record(pending))
        finish(root, folder)
        return
    line = find_index_line(root, name, text(trace_header(folder), "start_ts"))
    if line is None:
        publish(root, folder, _finalize_crashed(folder))
        return
    # Published, then its summary.json was lost or damaged: the line stays the only one.
    write_atomic(os.path.join(folder, SUMMARY), summary_bytes(_rebuild_summary(folder, line)))
    unlink_quietly(root.marker(folder))


def _marked(root: Layout) -> list[str]:
    """Folders of the running markers; a marker whose session finished, or whose
    folder never came (or is gone), is removed."""
    try:
        names = os.listdir(root.running)
    except OSError:
        return []
    folders = []
    for name in names:
        marker = os.path.join(root.running, name)
        folder = os.path.join(root.sessions, name)
        if has_summary(folder):
            unlink_quietly(marker)  # its wrapper died between the two steps
        elif os.path.isdir(folder):
            folders.append(folder)
        elif _age(marker) >= STARTING_GRACE_S:
            unlink_quietly(marker)
    return folders


def _lock_unfinished(folder: str) -> int | None:
    """The session's lock when it has no summary and its wrapper is gone, else None."""
    if has_summary(folder):
        return None
    trace = os.path.join(folder, TRACE)
    if os.path.exists(trace):
        return try_lock(trace)
    if _age(folder) < STARTING_GRACE_S:
        return None  # still being set up
    # No trace ever written: lock the folder itself for exclusivity.
    return try_lock(folder)


def _age(path: str) -> float:
    return time.time() - mtime(path)


def _finalize_crashed(folder: str) -> dict[str, Any]:
    """Rewrite anomalies.jsonl for a crashed session and return its summary.

    Detection over the trace gives exactly what the live detector would have
    found, so anomalies.jsonl is rewritten whole.
    """
    from autoskillit_trace.recovery import crashed_summary

    found = _replay(folder)
    if found.anomaly_lines:
        write_atomic(os.path.join(folder, ANOMALIES), b"".join(found.anomaly_lines))
    return crashed_summary(found)


def _rebuild_summary(folder: str, line: dict[str, Any]) -> dict[str, Any]:
    """summary.json again, for a published session whose summary.json was lost or damaged."""
    from autoskillit_trace.recovery import rebuilt_summary

    return rebuilt_summary(_replay(folder), line)


def _replay(folder: str) -> Replay:
    """The session's streamed trace through the detector again (imported only for an orphan:
    a run with nothing to recover never loads it)."""
    from autoskillit_trace.recovery import replay

    trace = os.path.join(folder, TRACE)
    records = iter_file(trace) if os.path.exists(trace) else iter(())
    found = replay(os.path.basename(folder), records)
    processes = os.path.join(folder, PROCESSES)
    if os.path.exists(processes):  # its lines as written: a crash loses only the live ones
        from autoskillit_trace.accounting import summarize

        found.usage.update(summarize(iter_file(processes)))
    events = os.path.join(folder, EVENTS)
    if os.path.exists(events):  # the agent's calls and turns, as far as they were written
        from autoskillit_trace.toolcalls import tool_summary

        found.usage.update(tool_summary(iter_file(events), found.start.get("agent_events") is True))
    return found
