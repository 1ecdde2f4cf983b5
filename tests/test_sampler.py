"""The sampler against real processes, with psutil as an independent oracle."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from helpers import workload

from autoskillit_trace.sampler import Sampler, TreeFinder, parse_stat, parse_status


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(workload("sleep", 30))
    time.sleep(0.3)  # past interpreter start-up
    yield proc
    proc.kill()
    proc.wait()


def test_child_fields_agree_with_psutil(sleeper: subprocess.Popen[bytes]) -> None:
    sampler = Sampler(sleeper.pid)
    fields = sampler.sample(time.monotonic())
    oracle = psutil.Process(sleeper.pid)
    with oracle.oneshot():
        assert fields["state"] == oracle.status()
        assert abs(fields["vm_rss_kb"] - oracle.memory_info().rss // 1024) < 512
        assert fields["threads"] == oracle.num_threads()
        assert fields["fd_count"] == oracle.num_fds()
        assert fields["fd_soft_limit"] == oracle.rlimit(psutil.RLIMIT_NOFILE)[0]
        switches = oracle.num_ctx_switches()
        assert 0 <= switches.voluntary - fields["ctx_switches_voluntary"] < 5
        assert fields["comm"] == oracle.name()
    assert fields["oom_score"] == int(Path(f"/proc/{sleeper.pid}/oom_score").read_text())
    assert fields["cpu_percent"] is None  # no interval yet
    assert fields["tree_procs"] == 1
    assert fields["zombie_pids"] == []


def test_second_sample_has_cpu_percent(sleeper: subprocess.Popen[bytes]) -> None:
    sampler = Sampler(sleeper.pid)
    sampler.sample(time.monotonic())
    time.sleep(0.1)
    fields = sampler.sample(time.monotonic())
    assert fields["cpu_percent"] is not None and 0 <= fields["cpu_percent"] < 50
    assert fields["tree_cpu_percent"] is not None


@pytest.mark.parametrize("use_children_files", [False, True])
def test_tree_finder_finds_every_descendant(use_children_files: bool) -> None:
    if use_children_files and not os.path.exists(
        f"/proc/{os.getpid()}/task/{os.getpid()}/children"
    ):
        pytest.skip("this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)")
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & (sleep 30 & wait) & wait"])
    try:
        oracle = psutil.Process(proc.pid)
        expected = {proc.pid} | {c.pid for c in oracle.children(recursive=True)}
        deadline = time.monotonic() + 5
        while len(expected) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
            expected = {proc.pid} | {c.pid for c in oracle.children(recursive=True)}
        finder = TreeFinder(os.getpid(), use_children_files=use_children_files)
        assert set(finder.members()) == expected
        assert set(finder.members()) == expected  # the cached second pass agrees
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()


def test_vanished_child_gives_nulls_not_zeros() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    fields = Sampler(proc.pid).sample(time.monotonic())
    for name in ("state", "vm_rss_kb", "threads", "fd_count", "oom_score", "sig_pnd", "comm"):
        assert fields[name] is None, name
    assert fields["tree_procs"] == 0


def test_parse_stat_handles_parentheses_and_spaces_in_comm() -> None:
    fields = " ".join(
        ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", "7", "3"]
        + ["0"] * 4
        + ["2", "0", "123", "0", "10"]
        + ["0"] * 20
    )
    stat = parse_stat(42, f"42 (we ird) (x)) {fields}".encode())
    assert stat is not None
    assert stat.comm == "we ird) (x)"
    assert stat.state == "sleeping" and stat.ppid == 1
    assert stat.ticks == 10 and stat.threads == 2 and stat.start_ticks == 123


def test_parse_stat_rejects_garbage() -> None:
    assert parse_stat(1, b"garbage") is None
    assert parse_stat(1, b"1 (x) S") is None


def test_parse_status_merges_thread_and_process_pending_sets() -> None:
    data = b"State:\tS (sleeping)\nSigPnd:\t0000000000000001\nShdPnd:\t0000000000000200\n"
    fields = parse_status(data)
    assert fields["sig_pnd"] == "0000000000000201"
    assert fields["vm_rss_kb"] is None  # absent (a zombie has no VmRSS): null


def test_seeded_finder_finds_children_born_after_the_seed() -> None:
    """Seeded before the spawn, the first scan reads only processes born since."""
    from autoskillit_trace.sampler import list_pids

    finder = TreeFinder(os.getpid(), use_children_files=False, existing=list_pids())
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & wait"])
    try:
        oracle = psutil.Process(proc.pid)
        deadline = time.monotonic() + 5
        while not oracle.children() and time.monotonic() < deadline:
            time.sleep(0.02)
        expected = {proc.pid} | {c.pid for c in oracle.children(recursive=True)}
        assert set(finder.members()) == expected
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()
