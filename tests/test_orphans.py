"""Orphans: a session whose wrapper is gone is finalized once, and a live one never."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import Session, folders, index_records, run_traced, workload

from autoskillit_trace.faults import Faults
from autoskillit_trace.store.layout import PENDING, SUMMARY, TRACE
from autoskillit_trace.store.root import LogRoot
from autoskillit_trace.store.writer import SessionWriter


def test_a_session_that_died_while_publishing_keeps_its_own_summary(log_root: Path) -> None:
    """Pending summary written, index line not: recovery indexes the real outcome once."""
    traced = run_traced(log_root, workload("exit", 3))
    folder = traced.session.folder
    (folder / SUMMARY).rename(folder / PENDING)
    (log_root / "sessions.jsonl").write_text("")
    root = LogRoot(log_root)
    assert root.recover_orphans() == [folder.name]
    assert Session(folder).summary["subtype"] == "failed"
    assert [r["exit_code"] for r in index_records(log_root)] == [3]
    # Index line written, rename not done: no second line.
    (folder / SUMMARY).rename(folder / PENDING)
    assert root.recover_orphans() == [folder.name]
    assert len(index_records(log_root)) == 1
    assert root.recover_orphans() == []


def test_folder_without_a_trace_is_finalized_after_the_grace(log_root: Path) -> None:
    root = LogRoot(log_root)
    root.ensure()
    folder = Path(root.create_session_dir("never-started"))
    assert root.recover_orphans() == []  # still being set up
    os.utime(folder, (0, 0))
    assert root.recover_orphans() == ["never-started"]
    summary = Session(folder).summary
    assert summary["subtype"] == "crashed" and summary["snapshot_count"] == 0
    assert folders(log_root) == {"never-started"}


def test_a_live_session_without_a_trace_is_not_taken_for_crashed(log_root: Path) -> None:
    root = LogRoot(log_root)
    root.ensure()
    folder = Path(root.create_session_dir("no-trace"))
    (folder / f".{TRACE}.starting").mkdir()  # the trace cannot be created
    writer = SessionWriter(folder, Faults(lambda _: None))
    assert writer.open_trace() is False
    os.utime(folder, (0, 0))  # long past the start-up grace
    assert root.recover_orphans() == []  # the wrapper still holds the folder
    writer.close()
    assert root.recover_orphans() == ["no-trace"]
