"""The sampler against real processes, with psutil as an independent oracle."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psutil
import pytest
from helpers import read_json, wait_for, workload
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.sampler import (
    STATES,
    ProcFiles,
    Sampler,
    TreeFinder,
    parse_run_delay,
    parse_stat,
    parse_status,
    read_stat,
)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a test's process and everything it started, and reap it."""
    for child in psutil.Process(proc.pid).children(recursive=True):
        child.kill()
    proc.kill()
    proc.wait()


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process asleep, its interpreter's start-up over (its figures hold still)."""
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(workload("ready-sleep", ready, 30))
    wait_for(lambda: read_json(ready), what="sleeper ready")
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
    waited = round(int(Path(f"/proc/{sleeper.pid}/schedstat").read_text().split()[1]) / 1e9, 6)
    assert 0 <= fields["sched_wait_s"] <= waited  # read before, and it only grows
    assert fields["cpu_percent"] is None  # no interval yet
    assert fields["tree_procs"] == 1
    assert fields["zombie_pids"] == [] and fields["zombie_start_ticks"] == []


def test_zombies_are_listed_with_their_start_ticks() -> None:
    """A zombie's start tells it from a later process that reuses its pid."""
    proc = subprocess.Popen(workload("zombie", 30))
    try:
        parent = psutil.Process(proc.pid)
        (zombie,) = wait_for(
            lambda: [c for c in parent.children() if c.status() == psutil.STATUS_ZOMBIE],
            what="an unreaped child",
        )
        fields = Sampler(proc.pid).sample(time.monotonic())
        stat = read_stat(zombie.pid)
        assert stat is not None and stat.state == "zombie"
        assert fields["zombie_pids"] == [zombie.pid]
        assert fields["zombie_start_ticks"] == [stat.start_ticks]
    finally:
        _kill_tree(proc)


def test_run_delay_is_read_in_seconds_or_none() -> None:
    assert parse_run_delay(b"94120 10336119 2\n") == 0.010336
    for bad in (None, b"", b"94120", b"94120 x 2"):
        assert parse_run_delay(bad) is None


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

        def whole_tree() -> set[int] | None:
            members = {proc.pid, *(c.pid for c in oracle.children(recursive=True))}
            return members if len(members) == 4 else None

        expected = wait_for(whole_tree, what="the tree of four")
        finder = TreeFinder(os.getpid(), use_children_files=use_children_files)
        assert set(finder.members()) == expected
        assert set(finder.members()) == expected  # the cached second pass agrees
    finally:
        _kill_tree(proc)


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


def test_an_unreadable_command_has_the_same_fields_all_null(
    sleeper: subprocess.Popen[bytes],
) -> None:
    sampler = Sampler(sleeper.pid)
    live = sampler._child_fields(read_stat(sleeper.pid))
    unreadable = sampler._child_fields(None)
    assert list(unreadable) == list(live)
    assert set(unreadable.values()) == {None} and live["comm"] is not None


def test_parse_stat_rejects_garbage() -> None:
    assert parse_stat(1, b"garbage") is None
    assert parse_stat(1, b"1 (x) S") is None


def test_parse_status_merges_thread_and_process_pending_sets() -> None:
    data = b"State:\tS (sleeping)\nSigPnd:\t0000000000000001\nShdPnd:\t0000000000000200\n"
    fields = parse_status(data)
    assert fields["sig_pnd"] == "0000000000000201"
    assert fields["vm_rss_kb"] is None  # absent (a zombie has no VmRSS): null


def _status_reference(data: bytes) -> dict[str, object]:
    """parse_status's contract, written plainly: the first word after each key, checked."""
    words: dict[bytes, bytes | None] = {}
    for line in data.split(b"\n"):
        key, colon, value = line.partition(b":")
        if colon and key not in words:
            words[key] = value.split()[0] if value.split() else None

    def number(key: bytes, base: int = 10) -> int | None:
        try:
            return int(words[key], base) if words.get(key) else None  # type: ignore[arg-type]
        except ValueError:
            return None

    pending, shared = number(b"SigPnd", 16), number(b"ShdPnd", 16)
    state, blocked, caught = words.get(b"State"), words.get(b"SigBlk"), words.get(b"SigCgt")
    return {
        "state": STATES.get(state[:1]) if state else None,
        "vm_rss_kb": number(b"VmRSS"),
        "threads": number(b"Threads"),
        "sig_pnd": None if pending is None or shared is None else f"{pending | shared:016x}",
        "sig_blk": blocked.decode("ascii", "replace") if blocked else None,
        "sig_cgt": caught.decode("ascii", "replace") if caught else None,
        "ctx_switches_voluntary": number(b"voluntary_ctxt_switches"),
        "ctx_switches_involuntary": number(b"nonvoluntary_ctxt_switches"),
    }


STATUS_KEYS = st.sampled_from(
    [b"State", b"VmRSS", b"Threads", b"SigPnd", b"ShdPnd", b"SigBlk", b"SigCgt", b"Name",
     b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches"]
)  # fmt: skip
# Masks: all zero, not hex, upper case, short, prefixed, and any 64 bits.
MASKS = st.one_of(
    st.sampled_from([b"0" * 16, b"00zz", b"000000000000000z", b"00000000000000AB", b"0x10", b"1"]),
    st.integers(0, 2**64 - 1).map(lambda n: f"{n:016x}".encode()),
)
STATUS_VALUES = st.one_of(
    st.sampled_from([b"S (sleeping)", b"Z (zombie)", b"1234 kB", b"", b" 7", b"x"]),
    MASKS,
    st.integers(0, 2**70).map(lambda n: f"{n:x}".encode()),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(STATUS_KEYS, STATUS_VALUES), max_size=12), MASKS, MASKS)
def test_parse_status_agrees_with_a_plain_reading(
    lines: list[tuple[bytes, bytes]], pending: bytes, shared: bytes
) -> None:
    """Random lines first (a key's first line counts), then both pending sets."""
    data = b"".join(key + b":\t" + value + b"\n" for key, value in lines)
    data += b"SigPnd:\t" + pending + b"\nShdPnd:\t" + shared + b"\n"
    assert parse_status(data) == _status_reference(data)


def test_an_unreadable_status_stands_for_the_same_fields() -> None:
    from autoskillit_trace.sampler import _STATUS_FIELDS

    assert sorted(parse_status(b"")) == sorted(_STATUS_FIELDS)


def test_parse_status_of_every_process_here() -> None:
    for path in Path("/proc").glob("[0-9]*/status"):
        with suppress(OSError):
            data = path.read_bytes()
            assert parse_status(data) == _status_reference(data), path


def test_seeded_finder_finds_children_born_after_the_seed() -> None:
    """Seeded before the spawn, the first scan reads only processes born since."""
    from autoskillit_trace.sampler import list_pids

    finder = TreeFinder(os.getpid(), use_children_files=False, existing=list_pids())
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & wait"])
    try:
        oracle = psutil.Process(proc.pid)
        wait_for(oracle.children, what="bash's child")
        expected = {proc.pid} | {c.pid for c in oracle.children(recursive=True)}
        assert set(finder.members()) == expected
    finally:
        _kill_tree(proc)


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
        _kill_tree(proc)
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
        _kill_tree(second)
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
