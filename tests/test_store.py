"""The store's building blocks on real files: naming, modes, the locked index."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from autoskillit_trace.store import (
    LogRoot,
    SessionInfo,
    StoreError,
    plan_prune,
    session_id_problem,
    try_lock,
    write_atomic,
)


@pytest.mark.parametrize("good", ["a", "A9", "build-42", "x.y_z-1", "9" * 128])
def test_valid_session_ids(good: str) -> None:
    assert session_id_problem(good) is None


@pytest.mark.parametrize("bad", ["", "-a", ".a", "a/b", "a b", "a..b", "a\nb", "é", "x" * 129])
def test_invalid_session_ids(bad: str) -> None:
    assert session_id_problem(bad) is not None


def test_existing_folder_gets_a_numeric_suffix(tmp_path: Path) -> None:
    root = LogRoot(tmp_path / "logs")
    root.ensure()
    names = [root.create_session_dir("build").name for _ in range(3)]
    assert names == ["build", "build-2", "build-3"]


def test_folders_and_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        root = LogRoot(tmp_path / "logs")
        root.ensure()
        folder = root.create_session_dir("s")
        root.append_index({"dir_name": "s"})
        write_atomic(folder / "summary.json", b"{}")
    finally:
        os.umask(old)
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert ((tmp_path / "logs" / "sessions.jsonl").stat().st_mode & 0o777) == 0o600
    assert ((folder / "summary.json").stat().st_mode & 0o777) == 0o600


def test_log_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create log folder"):
        LogRoot(tmp_path / "logs").ensure()


def test_symlinked_session_folder_is_refused(tmp_path: Path) -> None:
    root = LogRoot(tmp_path / "logs")
    root.ensure()
    (root.sessions / "evil").symlink_to(tmp_path)
    with pytest.raises(StoreError, match="is a symlink"):
        root.create_session_dir("evil")


def _append_many(root: str, worker: int) -> None:
    for i in range(200):
        LogRoot(Path(root)).append_index({"dir_name": f"w{worker}-{i}", "pad": "x" * 3000})


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    root = LogRoot(tmp_path / "logs")
    root.ensure()
    workers = [
        multiprocessing.Process(target=_append_many, args=(str(root.path), w)) for w in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lines = root.index.read_text().splitlines()
    assert len(lines) == 800
    assert len({json.loads(line)["dir_name"] for line in lines}) == 800


def test_lock_tells_a_held_session_from_a_free_one(tmp_path: Path) -> None:
    path = tmp_path / "trace"
    path.write_text("")
    held = try_lock(path)
    assert held is not None
    assert try_lock(path) is None  # a second open file description is refused
    os.close(held)
    again = try_lock(path)
    assert again is not None
    os.close(again)


def test_plan_prune_keeps_newest_and_never_unfinished() -> None:
    sessions = [SessionInfo(f"s{i}", float(i), finished=(i != 1)) for i in range(6)]
    victims = [s.dir_name for s in plan_prune(sessions, keep=3, older_than_s=None, now=10.0)]
    assert victims == ["s2", "s0"]  # s1 is older but still running
    aged = plan_prune(sessions, keep=None, older_than_s=7.5, now=10.0)
    assert [s.dir_name for s in aged] == ["s2", "s0"]  # start < 2.5, s1 unfinished


def test_rewriting_the_index_keeps_lines_it_cannot_parse(tmp_path: Path) -> None:
    root = LogRoot(tmp_path / "logs")
    root.ensure()
    for name in ("a", "b"):
        folder = root.create_session_dir(name)
        summary = {
            "dir_name": name,
            "start_ts": f"2026-01-0{1 if name == 'a' else 2}T00:00:00+00:00",
        }
        write_atomic(folder / "summary.json", json.dumps(summary).encode())
        root.append_index(summary)
    with open(root.index, "ab") as handle:
        handle.write(b"{broken\n")
    report = root.prune(keep=1)
    assert report.removed == ["a"]
    lines = root.index.read_bytes().splitlines()
    assert b"{broken" in lines and len(lines) == 2
    assert not (root.sessions / "a").exists()
