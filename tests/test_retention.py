"""Retention: which sessions go, removing them beside running sessions and other writers."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers import (
    folders,
    index_records,
    run_traced,
    start_traced,
    tracer,
    workload,
)
from hypothesis import given
from hypothesis import strategies as st

from autoskillit_trace.fsutil import write_atomic
from autoskillit_trace.store.index import append_index
from autoskillit_trace.store.layout import SUMMARY, TRACE
from autoskillit_trace.store.retention import PruneReport, SessionInfo, plan_prune
from autoskillit_trace.store.root import LogRoot

NOW = 1_000_000.0


def _infos(*ages: float, unfinished: tuple[int, ...] = ()) -> list[SessionInfo]:
    return [SessionInfo(f"s{i}", NOW - age, i not in unfinished) for i, age in enumerate(ages)]


def _names(victims: list[SessionInfo]) -> list[str]:
    return sorted(v.dir_name for v in victims)


def test_plan_keep_newest() -> None:
    sessions = _infos(10, 20, 30, 40)
    assert _names(plan_prune(sessions, 2, None, NOW)) == ["s2", "s3"]
    assert plan_prune(sessions, 4, None, NOW) == []
    assert _names(plan_prune(sessions, 0, None, NOW)) == ["s0", "s1", "s2", "s3"]


def test_plan_older_than() -> None:
    sessions = _infos(10, 20, 30, 40)
    assert _names(plan_prune(sessions, None, 25, NOW)) == ["s2", "s3"]
    assert plan_prune(sessions, None, 40, NOW) == []  # strictly older


def test_plan_either_limit_removes() -> None:
    sessions = _infos(10, 20, 30, 40)
    assert _names(plan_prune(sessions, 3, 15, NOW)) == ["s1", "s2", "s3"]
    assert _names(plan_prune(sessions, 1, 35, NOW)) == ["s1", "s2", "s3"]


def test_plan_never_removes_unfinished_but_counts_them() -> None:
    sessions = _infos(10, 20, 30, 40, unfinished=(0, 3))
    assert _names(plan_prune(sessions, 1, None, NOW)) == ["s1", "s2"]
    assert _names(plan_prune(sessions, None, 0, NOW)) == ["s1", "s2"]


@given(
    st.lists(st.tuples(st.floats(0, 1e6), st.booleans()), max_size=30),
    st.one_of(st.none(), st.integers(0, 40)),
    st.one_of(st.none(), st.floats(0, 2e6)),
)
def test_plan_properties(
    sessions: list[tuple[float, bool]], keep: int | None, older_than: float | None
) -> None:
    infos = [SessionInfo(f"s{i:02d}", NOW - age, done) for i, (age, done) in enumerate(sessions)]
    victims = plan_prune(infos, keep, older_than, NOW)
    assert all(v.finished for v in victims)
    newest = sorted(infos, key=lambda s: (s.start, s.dir_name), reverse=True)
    for position, info in enumerate(newest):
        beyond = keep is not None and position >= keep
        old = older_than is not None and NOW - info.start > older_than
        assert (info in victims) == (info.finished and (beyond or old))


def _sessions(root: Path, count: int) -> list[str]:
    for _ in range(count):
        assert run_traced(root, workload("sleep", 0), interval=30).proc.returncode == 0
    return [r["dir_name"] for r in index_records(root)]


def test_prune_removes_folders_and_index_lines(log_root: Path) -> None:
    names = _sessions(log_root, 4)
    with open(log_root / "sessions.jsonl", "ab") as handle:
        handle.write(b"not json, kept as it is\n")
    root = LogRoot(log_root)
    sizes = sum(
        p.stat().st_size for name in names[:2] for p in (log_root / "sessions" / name).iterdir()
    )
    dry = root.prune(keep=2, dry_run=True)
    assert sorted(dry.removed) == sorted(names[:2]) and dry.bytes_freed == sizes
    assert folders(log_root) == set(names)
    report = root.prune(keep=2)
    assert isinstance(report, PruneReport) and not report.dry_run
    assert sorted(report.removed) == sorted(names[:2]) and report.bytes_freed == sizes
    assert folders(log_root) == set(names[2:])
    lines = (log_root / "sessions.jsonl").read_text().splitlines()
    assert [json.loads(x)["dir_name"] for x in lines[:-1]] == names[2:]
    assert lines[-1] == "not json, kept as it is"
    assert root.prune(keep=2).removed == []


def test_prune_older_than_uses_start_times(log_root: Path) -> None:
    names = _sessions(log_root, 2)
    root = LogRoot(log_root)
    assert root.prune(keep=None, older_than_s=3600).removed == []
    later = time.time() + 7200
    assert sorted(root.prune(keep=None, older_than_s=3600, now=later).removed) == sorted(names)


def test_prune_waits_for_the_index_lock(log_root: Path) -> None:
    names = _sessions(log_root, 2)
    fd = os.open(log_root / ".sessions.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    result: list[PruneReport] = []
    worker = threading.Thread(target=lambda: result.append(LogRoot(log_root).prune(keep=1)))
    worker.start()
    time.sleep(0.3)
    assert not result and folders(log_root) == set(names)
    os.close(fd)
    worker.join(10)
    assert result[0].removed == [names[0]]


@pytest.mark.slow
def test_prune_loop_beside_20_concurrent_runs_keeps_one_line_per_session(
    log_root: Path, env: dict[str, str]
) -> None:
    """Every writer of the index holds its lock: no line lost, none doubled."""
    LogRoot(log_root).ensure()
    stop = threading.Event()
    prunes: list[subprocess.CompletedProcess[bytes]] = []

    def prune_loop() -> None:
        while not stop.is_set():
            argv = tracer("prune", "--log-dir", log_root, "--keep", 5, "-q")
            prunes.append(subprocess.run(argv, capture_output=True, env=env, timeout=60))

    looper = threading.Thread(target=prune_loop)
    looper.start()
    # Half the runs also prune themselves (max_sessions 8) while the others run.
    small = {**env, "AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS": "8"}
    procs = [
        start_traced(log_root, workload("sleep", 0.5), interval=0.05, env=small if i % 2 else env)
        for i in range(20)
    ]
    try:
        for proc in procs:
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
    finally:
        stop.set()
        looper.join(60)
    assert len(prunes) >= 2 and all(p.returncode == 0 for p in prunes), prunes[-1].stderr
    names = [r["dir_name"] for r in index_records(log_root)]
    assert len(names) == len(set(names))
    assert set(names) == folders(log_root)
    for name in names:
        assert (log_root / "sessions" / name / SUMMARY).exists()
    final = subprocess.run(tracer("prune", "--log-dir", log_root, "--keep", 5), env=env)
    assert final.returncode == 0
    names = [r["dir_name"] for r in index_records(log_root)]
    assert len(names) == 5 and set(names) == folders(log_root)


def test_rewriting_the_index_keeps_lines_it_cannot_parse(tmp_path: Path) -> None:
    root = LogRoot(tmp_path / "logs")
    root.ensure()
    for name in ("a", "b"):
        folder = root.create_session_dir(name)
        summary = {
            "dir_name": name,
            "start_ts": f"2026-01-0{1 if name == 'a' else 2}T00:00:00+00:00",
        }
        write_atomic(os.path.join(folder, "summary.json"), json.dumps(summary).encode())
        append_index(root, summary)
    with open(root.index, "ab") as handle:
        handle.write(b"{broken\n")
    report = root.prune(keep=1)
    assert report.removed == ["a"]
    lines = Path(root.index).read_bytes().splitlines()
    assert b"{broken" in lines and len(lines) == 2
    assert not (tmp_path / "logs" / "sessions" / "a").exists()


def test_prune_of_many_folders_removes_exactly_the_victims(tmp_path: Path) -> None:
    """Past 64 victims the folders are removed by threads: every one goes, the bytes add up."""
    root = LogRoot(tmp_path / "logs")
    root.ensure()
    sizes = {}
    for i in range(150):
        name = f"s{i:03d}"
        folder = root.create_session_dir(name)
        summary = {"dir_name": name, "start_ts": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00"}
        write_atomic(os.path.join(folder, TRACE), b"x" * i)
        write_atomic(os.path.join(folder, SUMMARY), json.dumps(summary).encode())
        append_index(root, summary)
        sizes[name] = i + len(json.dumps(summary))
    report = root.prune(keep=20)
    kept = {f"s{i:03d}" for i in range(130, 150)}
    assert sorted(report.removed) == sorted(set(sizes) - kept)
    assert report.bytes_freed == sum(sizes[name] for name in report.removed)
    assert set(os.listdir(tmp_path / "logs" / "sessions")) == kept  # no trash left behind
    assert {r["dir_name"] for r in index_records(tmp_path / "logs")} == kept


def test_remove_folder_flat_nested_and_missing(tmp_path: Path) -> None:
    from autoskillit_trace.store.retention import remove_folder

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "summary.json").write_text("{}")
    nested = tmp_path / "nested"
    (nested / "inner").mkdir(parents=True)
    (nested / "inner" / "x").write_text("x")
    for folder in (flat, nested, tmp_path / "missing"):
        remove_folder(folder)
        assert not folder.exists()
