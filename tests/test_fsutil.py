"""File primitives: the lock that tells a held file from a free one, or from one moved away."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from autoskillit_trace import fsutil


def test_lock_tells_a_held_session_from_a_free_one(tmp_path: Path) -> None:
    path = tmp_path / "trace"
    path.write_text("")
    held = fsutil.try_lock(path)
    assert held is not None
    assert fsutil.try_lock(path) is None  # a second open file description is refused
    os.close(held)
    again = fsutil.try_lock(path)
    assert again is not None
    os.close(again)


def test_a_file_moved_away_between_open_and_lock_is_not_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prune may rename a finished session's folder between a recoverer's open and its lock.

    The rename is done for real, at the one moment that cannot be reached
    otherwise: right after ``try_lock`` opened the file.
    """
    folder = tmp_path / "s"
    folder.mkdir()
    trace = folder / "proc_trace.jsonl"
    trace.write_text("")
    real_open = os.open

    def open_then_moved(path: str, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, *args, **kwargs)
        os.rename(folder, tmp_path / ".trash-s")
        return fd

    with monkeypatch.context() as patched:
        patched.setattr(fsutil.os, "open", open_then_moved)
        assert fsutil.try_lock(trace) is None
    fd = fsutil.try_lock(tmp_path / ".trash-s" / "proc_trace.jsonl")  # where it is now: locked
    assert fd is not None
    os.close(fd)
