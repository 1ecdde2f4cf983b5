"""The log root's layout: session folder names, private modes, refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autoskillit_trace.fsutil import write_atomic
from autoskillit_trace.store.index import append_index
from autoskillit_trace.store.layout import Layout, StoreError, session_id_problem


@pytest.mark.parametrize("good", ["a", "A9", "build-42", "x.y_z-1", "9" * 128])
def test_valid_session_ids(good: str) -> None:
    assert session_id_problem(good) is None


@pytest.mark.parametrize("bad", ["", "-a", ".a", "a/b", "a b", "a..b", "a\nb", "é", "x" * 129])
def test_invalid_session_ids(bad: str) -> None:
    assert session_id_problem(bad) is not None


def test_existing_folder_gets_a_numeric_suffix(tmp_path: Path) -> None:
    root = Layout(tmp_path / "logs")
    root.ensure()
    names = [Path(root.create_session_dir("build")).name for _ in range(3)]
    assert names == ["build", "build-2", "build-3"]


def test_folders_and_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        root = Layout(tmp_path / "logs")
        root.ensure()
        folder = Path(root.create_session_dir("s"))
        append_index(root, {"dir_name": "s"})
        write_atomic(folder / "summary.json", b"{}")
    finally:
        os.umask(old)
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert ((tmp_path / "logs" / "sessions.jsonl").stat().st_mode & 0o777) == 0o600
    assert ((folder / "summary.json").stat().st_mode & 0o777) == 0o600


def test_log_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("not a folder")
    with pytest.raises(StoreError, match="is not a folder"):
        Layout(tmp_path / "logs").ensure()


def test_symlinked_session_folder_is_refused(tmp_path: Path) -> None:
    root = Layout(tmp_path / "logs")
    root.ensure()
    (tmp_path / "logs" / "sessions" / "evil").symlink_to(tmp_path)
    with pytest.raises(StoreError, match="is a symlink"):
        root.create_session_dir("evil")
