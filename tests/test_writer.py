"""The session writer: a live session's trace is locked from the moment it has its name."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import start_traced, wait_for_snapshots, workload

from autoskillit_trace.fsutil import try_lock
from autoskillit_trace.store.layout import TRACE


def test_trace_is_locked_as_soon_as_it_has_its_name(log_root: Path) -> None:
    proc = start_traced(log_root, workload("sleep", 1), interval=0.1)
    folder = wait_for_snapshots(log_root, 1)
    assert try_lock(folder / TRACE) is None  # held by the live wrapper
    proc.communicate(timeout=30)
    fd = try_lock(folder / TRACE)
    assert fd is not None
    os.close(fd)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
