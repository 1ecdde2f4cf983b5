"""The process tree finder and its held /proc files against real processes (psutil the oracle)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import suppress

import psutil
import pytest
from helpers import kill_tree, wait_for, workload

from autoskillit_trace.proctree import (
    ProcFiles,
    TreeFinder,
    parse_stat,
)
from autoskillit_trace.sampler import Sampler


@pytest.mark.parametrize("use_children_files", [False, True])
def test_tree_finder_finds_every_descendant(use_children_files: bool) -> None:
    if use_children_files and not os.path.exists(
        f"/proc/{os.getpid()}/task/{os.getpid()}/children"
    ):
        pytest.skip("this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)")
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & (sleep 30 & wait) & wait"])
    try:
        oracle = psutil.Process(proc.pid)

        def whole_tree() -> set[int] | None:
            members = {proc.pid, *(c.pid for c in oracle.children(recursive=True))}
            return members if len(members) == 4 else None

        expected = wait_for(whole_tree, what="the tree of four")
        finder = TreeFinder(os.getpid(), use_children_files=use_children_files)
        assert set(finder.members()) == expected
        assert set(finder.members()) == expected  # the cached second pass agrees
    finally:
        kill_tree(proc)


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


def test_seeded_finder_finds_children_born_after_the_seed() -> None:
    """Seeded before the spawn, the first scan reads only processes born since."""
    from autoskillit_trace.proctree import list_pids

    finder = TreeFinder(os.getpid(), use_children_files=False, existing=list_pids())
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & wait"])
    try:
        oracle = psutil.Process(proc.pid)
        wait_for(oracle.children, what="bash's child")
        expected = {proc.pid} | {c.pid for c in oracle.children(recursive=True)}
        assert set(finder.members()) == expected
    finally:
        kill_tree(proc)


def _own_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_held_files_follow_the_tree_and_are_let_go() -> None:
    """Descendants come and go; files are held only for the live members."""
    before = _own_fds()
    finder = TreeFinder(os.getpid())
    proc = subprocess.Popen(workload("churn", 3, 5))
    sampler = Sampler(proc.pid, finder)
    try:
        seen: set[int] = set()
        for _ in range(60):
            fields = sampler.sample(time.monotonic())
            # The wrapper (stat, children), each member (stat, fd, children)
            # and the command's status, oom_score, schedstat and wchan.
            assert finder.files.held <= 2 + 3 * fields["tree_procs"] + 4
            members = finder.members()
            assert finder.files.held <= 2 + 3 * len(members) + 4
            seen |= set(members)
            time.sleep(0.02)
        assert len(seen) > 20  # the tree really churned
        assert _own_fds() <= before + 1 + 2 + 3 * 6 + 4  # 1: /proc/loadavg
    finally:
        proc.kill()
        proc.wait()
    finder.members()  # the command is gone: only the wrapper's files are left
    assert finder.files.held == 2
    finder.close()
    assert finder.files.held == 0 and _own_fds() == before


def test_past_its_budget_the_finder_reads_by_path() -> None:
    proc = subprocess.Popen(["bash", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; wait"])
    finder = TreeFinder(os.getpid())
    finder.files.budget = 7
    try:
        oracle = psutil.Process(proc.pid)
        wait_for(lambda: len(oracle.children()) == 8, what="eight children")
        tree = [oracle, *oracle.children()]
        fields = Sampler(proc.pid, finder).sample(time.monotonic())
        assert set(finder.members()) == {p.pid for p in tree}
        assert fields["tree_procs"] == 9 and finder.files.held == 7
        assert fields["tree_fd_count"] == sum(p.num_fds() for p in tree)
        assert fields["fd_count"] == oracle.num_fds()
    finally:
        kill_tree(proc)
        finder.close()


def _spawn_with_pid(pid: int, argv: list[str]) -> subprocess.Popen[bytes] | None:
    """Start ``argv`` as ``pid`` (root: /proc/sys/kernel/ns_last_pid), or None."""
    for _ in range(20):
        try:
            with open("/proc/sys/kernel/ns_last_pid", "w") as handle:
                handle.write(str(pid - 1))
        except OSError:
            return None
        proc = subprocess.Popen(argv)
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    return None


def test_a_reused_pid_is_read_as_its_new_process() -> None:
    """Held files belong to the process they were opened for, never to a new owner of its pid."""
    files = ProcFiles()
    first = subprocess.Popen(["sleep", "30"])
    pid = first.pid
    assert files.stat(pid) is not None
    assert files.read(pid, "children") == b""  # held now, for a process without children
    first.kill()
    first.wait()
    second = _spawn_with_pid(pid, ["bash", "-c", "sleep 30 & wait"])
    if second is None:
        pytest.skip("cannot choose the next pid here (needs root and ns_last_pid)")
    try:
        grandchild = wait_for(lambda: psutil.Process(pid).children(), what="a child")[0]
        stat = parse_stat(pid, files.stat(pid) or b"")
        assert stat is not None and stat.comm == "bash"
        assert files.read(pid, "children") == f"{grandchild.pid} ".encode()
    finally:
        kill_tree(second)
        files.close()


def test_a_child_of_another_thread_is_found() -> None:
    """Children hang off the thread that forked them: a multi-threaded root is listed by task."""
    spawned: list[subprocess.Popen[bytes]] = []
    ready, done = threading.Event(), threading.Event()

    def spawn() -> None:
        spawned.append(subprocess.Popen(["sleep", "30"]))
        ready.set()
        done.wait(30)  # alive, so the child stays this thread's

    thread = threading.Thread(target=spawn)
    thread.start()
    finder = TreeFinder(os.getpid())
    try:
        assert ready.wait(10)
        assert finder.files.threads(os.getpid()) == psutil.Process().num_threads() >= 2
        assert spawned[0].pid in finder.members()
    finally:
        done.set()
        thread.join()
        spawned[0].kill()
        spawned[0].wait()
        finder.close()


class _NoNewProcesses(TreeFinder):
    """The kernel's last pid frozen, as on a machine where no process is created."""

    def _read_last_pid(self) -> int | None:
        return 42


def test_between_births_the_finder_drops_the_dead_and_the_re_parented() -> None:
    """No process born since the last walk: members are re-read, no children file.

    Each answer must equal a full walk's.  The root (this test process) is no
    subreaper, so a grandchild whose parent dies leaves the tree.
    """
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & sleep 30 & wait"])
    oracle = psutil.Process(proc.pid)
    wait_for(lambda: len(oracle.children()) == 2, what="two sleeps")
    first, second = (child.pid for child in oracle.children())
    finder = _NoNewProcesses(os.getpid())

    def full_walk() -> set[int]:
        walker = TreeFinder(os.getpid())
        try:
            return set(walker.members())
        finally:
            walker.close()

    try:
        assert {proc.pid, first, second} <= set(finder.members()) == full_walk()
        os.kill(first, 9)  # reaped by bash
        wait_for(lambda: not psutil.pid_exists(first), what="the first sleep reaped")
        assert set(finder.members()) == full_walk()
        assert first not in finder.members()
        proc.kill()  # bash dies unreaped: a zombie member; its sleep is re-parented away
        wait_for(lambda: psutil.Process(second).ppid() != proc.pid, what="re-parenting")
        assert proc.pid in finder.members() and second not in finder.members()
        assert set(finder.members()) == full_walk()
        proc.wait()
        assert proc.pid not in finder.members()
        assert set(finder.members()) == full_walk()
    finally:
        with suppress(ProcessLookupError):
            os.kill(second, 9)
        proc.kill()
        proc.wait()
        finder.close()


def test_an_unchanged_stat_line_gives_back_its_record_a_changed_one_a_new_one() -> None:
    """A sleeping process reads the same at the next look: its record is not parsed again.
    Once it allocates, its line (RSS) differs and a fresh record says so."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.stdin.readline(); x = bytearray(64 << 20); time.sleep(60)",
        ],
        stdin=subprocess.PIPE,
    )
    try:
        finder = TreeFinder(os.getpid())
        wait_for(lambda: proc.pid in finder.members() or None, what="the child in the tree")
        # Asleep in readline: two looks in a row give one record (else it just woke).
        same = wait_for(
            lambda: (
                (a := finder.members().get(proc.pid)) is finder.members().get(proc.pid)
                and a is not None
                and a.state == "sleeping"
                and a
            ),
            what="two looks at the sleeping child with one record",
        )
        time.sleep(0.2)
        assert finder.members()[proc.pid] is same  # still asleep, still the same line
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        grown = wait_for(
            lambda: (
                (stat := finder.members().get(proc.pid))
                and stat.rss_kb > same.rss_kb + 60_000
                and stat
            ),
            what="the child's 64 MiB",
        )
        assert grown is not same and grown.start_ticks == same.start_ticks
    finally:
        proc.kill()
        proc.wait()
