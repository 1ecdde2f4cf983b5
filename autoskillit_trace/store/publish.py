"""Publishing a finished session: its summary.json and its one index line, crash-safely.

The order is pending summary -> index line -> summary.json, so a crash at
any step is completed by recovery with exactly one index line.  summary.json
is whole or absent (written under another name, then renamed), and the
running marker goes only after it.
"""

from __future__ import annotations

import os

from autoskillit_trace.fsutil import LockBusy, unlink_quietly, write_atomic
from autoskillit_trace.jsonl import dumps_pretty
from autoskillit_trace.store.index import append_index
from autoskillit_trace.store.layout import PENDING, SUMMARY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath

    from autoskillit_trace.store.layout import Layout


def summary_bytes(summary: dict[str, Any]) -> bytes:
    """summary.json's text: indented for people, valid UTF-8 whatever the command line."""
    return (dumps_pretty(summary) + "\n").encode("utf-8", "backslashreplace")


def publish(root: Layout, folder: StrPath, summary: dict[str, Any]) -> None:
    """Write a finished session's summary and its index line, crash-safely.

    Order: ``.summary.json.pending`` (whole or absent), the index line, then
    the rename to ``summary.json``.  A crash at any point leaves a folder
    that recovery completes without losing or doubling the index line; so
    does an index lock that another process would not let go (LockBusy).
    """
    from autoskillit_trace.summary import index_record

    pending = os.path.join(folder, PENDING)
    write_atomic(pending, summary_bytes(summary))
    try:
        append_index(root, index_record(summary))
    except LockBusy:
        # The pending summary and the running marker stay: once this process is
        # gone, the next run or prune completes the session as after a crash.
        raise
    except OSError:
        # An index that cannot be written (the caller warns) leaves the
        # session's own record whole all the same.
        finish(root, folder)
        raise
    finish(root, folder)


def finish(root: Layout, folder: StrPath) -> None:
    """The pending summary becomes summary.json; the running marker goes."""
    os.replace(os.path.join(folder, PENDING), os.path.join(folder, SUMMARY))
    unlink_quietly(root.marker(folder))
