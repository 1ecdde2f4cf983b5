"""The global index, ``sessions.jsonl``: one JSON line per finished session.

Every writer holds ``<root>/.sessions.lock``: appends are one ``write`` each,
and a rewrite (retention) cannot drop a line that a concurrent session
appends.  Lines that are not valid JSON are kept as they are: never lose data.
"""

from __future__ import annotations

import os

from autoskillit_trace.ctx import suppress
from autoskillit_trace.fsutil import Flock, open_private, open_regular, write_all, write_atomic
from autoskillit_trace.jsonl import (
    dumps_line,
    iter_lines_holding,
    iter_lines_reversed,
    parse_line,
)
from autoskillit_trace.store.layout import text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from autoskillit_trace.store.layout import Layout


# How long a writer waits for the index lock: a prune's rewrite of a 100,000-line
# index holds it well under a second; a holder that never lets go gets LockBusy.
INDEX_LOCK_WAIT_S = 10.0


def index_lock(root: Layout) -> Flock:
    """``with index_lock(root):`` holds ``.sessions.lock``, as every writer of the index;
    LockBusy when another process held it for ``INDEX_LOCK_WAIT_S``."""
    return Flock(root.lock, INDEX_LOCK_WAIT_S)


def append_index(root: Layout, record: dict[str, Any]) -> None:
    """One line, one write, under the index lock.

    After a line cut short (a full disk, a crash), the new line starts on
    a line of its own instead of being glued to the broken one.
    """
    line = dumps_line(record)
    with index_lock(root):
        fd = open_private(root.index, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            write_all(fd, line)
        finally:
            os.close(fd)


def index_lines(index: str) -> list[bytes]:
    """The index's non-blank lines (without their newlines); none when it is absent."""
    try:
        with open_regular(index) as handle:
            return [line for line in handle.read().split(b"\n") if line.strip()]
    except FileNotFoundError:
        return []


def read_index(root: Layout) -> tuple[dict[str, float], dict[bytes, str | None]]:
    """Start time of each indexed session, and each index line's ``dir_name``.

    The second lets a rewrite that follows skip parsing every line again.
    """
    from autoskillit_trace.timeutil import parse_iso

    starts: dict[str, float] = {}
    names: dict[bytes, str | None] = {}
    for line in index_lines(root.index):
        record = parse_line(line)
        names[line] = name = text(record, "dir_name")
        ts = text(record, "start_ts")
        if name is not None and ts is not None:
            parsed = parse_iso(ts)
            if parsed is not None:
                starts[name] = parsed
    return starts, names


def rewrite_index_without(
    root: Layout, names: set[str], known: dict[bytes, str | None] | None = None
) -> None:
    """Rewrite the index without ``names``' lines; the caller holds the index lock.

    ``known`` maps lines already parsed to their ``dir_name``.
    """
    known = known or {}
    kept: list[bytes] = []
    for line in index_lines(root.index):
        name = known[line] if line in known else text(parse_line(line), "dir_name")
        if name not in names:
            kept.append(line + b"\n")
    write_atomic(root.index, b"".join(kept))


def find_index_line(root: Layout, dir_name: str, start_ts: str | None) -> dict[str, Any] | None:
    """The index line of the session in ``dir_name`` that started at ``start_ts``
    (any, when None), or None; a full scan: recovery only.

    The start time tells this session's line from that of an earlier one
    whose folder was deleted by hand, leaving its line and its name free.
    """
    needle = dir_name.encode()
    with suppress(FileNotFoundError), open_regular(root.index) as handle:
        for line in handle:
            record = parse_line(line) if needle in line else None
            if (
                record is not None
                and record.get("dir_name") == dir_name
                and (start_ts is None or record.get("start_ts") == start_ts)
            ):
                return record
    return None


def newest_records(
    index: str,
    keep: Callable[[dict[str, Any]], bool],
    limit: int,
    needle: bytes | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` (0: all) records that ``keep`` accepts, newest first, and the
    number of broken lines met; none when the index is absent.

    The index is read backwards in blocks from its end and the reading stops
    at the ``limit``-th record, so the newest few cost the same whatever the
    length of the history.  With a ``needle``, only lines that hold it are
    cut out and parsed (one byte search of the file).  One record per
    session folder: an index written by an older
    version may hold two lines for one folder (its prune appended a
    "crashed" line for a finished session whose summary.json was gone); the
    newest line is the one its summary.json was last written with, so older
    lines of that folder are passed over (lines without a ``dir_name`` are
    each their own).
    """
    records: list[dict[str, Any]] = []
    skipped = 0
    try:
        lines = iter_lines_reversed(index) if needle is None else iter_lines_holding(index, needle)
    except FileNotFoundError:
        return records, skipped
    seen: set[str] = set()
    try:
        for line in lines:
            record = parse_line(line)
            if record is None:
                skipped += 1
                continue
            folder = record.get("dir_name")
            if isinstance(folder, str):
                if folder in seen:
                    continue
                seen.add(folder)
            if keep(record):
                records.append(record)
                if limit and len(records) >= limit:
                    break
    finally:
        lines.close()
    return records, skipped


def field_needle(name: str, value: str) -> bytes:
    """``"name":"value"`` as an index line holds it (compact JSON, ASCII escapes)."""
    return dumps_line({name: value})[1:-2]


def job_runs(
    index: str,
    job: str,
    limit: int,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` records of ``job`` (0: all) that ``keep`` accepts, newest first."""

    def wanted(record: dict[str, Any]) -> bool:
        return record.get("job") == job and (keep is None or keep(record))

    return newest_records(index, wanted, limit, field_needle("job", job))[0]
