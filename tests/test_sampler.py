"""The sampler against real processes, with psutil as an independent oracle."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psutil
import pytest
from helpers import kill_tree, read_json, wait_for, workload
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autoskillit_trace.proctree import read_stat
from autoskillit_trace.sampler import Sampler, parse_run_delay, parse_status


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
        sampler = Sampler(proc.pid)
        fields = sampler.sample(time.monotonic())
        stat = read_stat(zombie.pid)
        assert stat is not None and stat.state == "zombie"
        assert fields["zombie_pids"] == [zombie.pid]
        assert fields["zombie_start_ticks"] == [stat.start_ticks]
        # Named, with the parent that does not reap it: a fork of the same program.
        assert fields["zombie_comms"] == fields["zombie_parent_comms"] == [parent.name()]
        assert fields["zombie_ppids"] == [proc.pid]
        # The readings of every process, for per-process accounting; one RSS for both figures.
        assert set(sampler.members) == {proc.pid, zombie.pid}
        assert sampler.members[proc.pid].rss_kb == fields["vm_rss_kb"]
    finally:
        kill_tree(proc)


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


def test_vanished_child_gives_nulls_not_zeros() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    fields = Sampler(proc.pid).sample(time.monotonic())
    for name in ("state", "vm_rss_kb", "threads", "fd_count", "oom_score", "sig_pnd", "comm"):
        assert fields[name] is None, name
    assert fields["tree_procs"] == 0


def test_an_unreadable_command_has_the_same_fields_all_null(
    sleeper: subprocess.Popen[bytes],
) -> None:
    sampler = Sampler(sleeper.pid)
    live = sampler._child_fields(read_stat(sleeper.pid))
    unreadable = sampler._child_fields(None)
    assert list(unreadable) == list(live)
    assert set(unreadable.values()) == {None} and live["comm"] is not None


def test_parse_status_merges_thread_and_process_pending_sets() -> None:
    data = (
        b"State:\tS (sleeping)\nSigQ:\t0/1\nSigPnd:\t0000000000000001\nShdPnd:\t0000000000000200\n"
        b"SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n"
    )
    fields = parse_status(data)
    assert fields["sig_pnd"] == "0000000000000201"
    assert fields["ctx_switches_voluntary"] is None  # absent: null


def _status_reference(data: bytes) -> dict[str, object]:
    """parse_status's contract, written plainly: each line's one word after its name,
    taken only when the lines stand in the kernel's order (the five signal lines one
    after the other, the two switch counts one after the other)."""
    lines = data.split(b"\n")
    keys = [line.partition(b":")[0] for line in lines]

    def word(index: int) -> bytes | None:  # the kernel writes the name, a tab, one word
        parts = lines[index].split()
        return parts[1] if len(parts) == 2 and parts[0] == keys[index] + b":" else None

    def block(first: bytes, names: list[bytes]) -> list[bytes | None] | None:
        if first not in keys[1:]:
            return None
        at = keys.index(first, 1)  # after a first line: parse_status looks for "\n" + key
        if keys[at : at + len(names)] != names:
            return None
        values = [word(at + n) for n in range(len(names))]
        return values if None not in values else None

    signals = block(b"SigPnd", [b"SigPnd", b"ShdPnd", b"SigBlk", b"SigIgn", b"SigCgt"])
    switches = block(
        b"voluntary_ctxt_switches", [b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches"]
    )
    sig_pnd = None
    if signals is not None:
        with suppress(ValueError):
            sig_pnd = f"{int(signals[0], 16) | int(signals[1], 16):016x}"  # type: ignore[arg-type]
    try:
        counts = [int(x) for x in switches] if switches is not None else [None, None]  # type: ignore[arg-type]
    except ValueError:
        counts = [None, None]
    return {
        "sig_pnd": sig_pnd,
        "sig_blk": signals[2].decode("ascii", "replace") if signals else None,  # type: ignore[union-attr]
        "sig_cgt": signals[4].decode("ascii", "replace") if signals else None,  # type: ignore[union-attr]
        "ctx_switches_voluntary": counts[0],
        "ctx_switches_involuntary": counts[1],
    }


STATUS_KEYS = st.sampled_from(
    [b"State", b"VmRSS", b"Threads", b"SigQ", b"SigIgn", b"SigBlk", b"SigCgt", b"Name",
     b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches"]
)  # fmt: skip
# Masks: all zero, not hex, upper case, short, prefixed, and any 64 bits.
MASKS = st.one_of(
    st.sampled_from([b"0" * 16, b"00zz", b"000000000000000z", b"00000000000000AB", b"0x10", b"1"]),
    st.integers(0, 2**64 - 1).map(lambda n: f"{n:016x}".encode()),
)
STATUS_VALUES = st.one_of(
    st.sampled_from([b"S (sleeping)", b"Z (zombie)", b"1234 kB", b" 7", b"x"]),
    MASKS,
    st.integers(0, 2**70).map(lambda n: f"{n:x}".encode()),
    st.integers(0, 2**70).map(lambda n: f"{n}".encode()),
)
SIGNAL_NAMES = [b"SigPnd", b"ShdPnd", b"SigBlk", b"SigIgn", b"SigCgt"]


@settings(max_examples=400, deadline=None)
@example(  # SigIgn moved before SigPnd, a SigCgt line after: the block is not the kernel's
    before=[],
    masks=[b"0" * 16] * 5,
    after=[(b"SigCgt", b"S (sleeping)")],
    order=[b"SigIgn", b"SigPnd", b"ShdPnd", b"SigBlk", b"SigCgt"],
    voluntary=b"x",
    involuntary=b"0",
)
@example(  # the block in the kernel's order, then a SigCgt line of two words after it
    before=[],
    masks=[b"0" * 16] * 5,
    after=[(b"SigCgt", b"S (sleeping)")],
    order=[b"SigCgt", b"SigPnd", b"ShdPnd", b"SigBlk", b"SigIgn"],
    voluntary=b"x",
    involuntary=b"0",
)
@example(  # the switch counts twice, the first time with a unit after the second count
    before=[],
    masks=[b"0" * 16] * 5,
    after=[(b"voluntary_ctxt_switches", b" 7"), (b"nonvoluntary_ctxt_switches", b"1234 kB")],
    order=SIGNAL_NAMES,
    voluntary=b"x",
    involuntary=b"0",
)
@given(
    st.lists(st.tuples(STATUS_KEYS, STATUS_VALUES), max_size=8),
    st.lists(MASKS, min_size=5, max_size=5),
    st.lists(st.tuples(STATUS_KEYS, STATUS_VALUES), max_size=8),
    st.permutations(SIGNAL_NAMES) | st.just(SIGNAL_NAMES),
    st.integers(0, 2**64).map(lambda n: f"{n}".encode()) | st.just(b"x"),
    st.integers(0, 2**64).map(lambda n: f"{n}".encode()),
)
def test_parse_status_agrees_with_a_plain_reading(
    before: list[tuple[bytes, bytes]],
    masks: list[bytes],
    after: list[tuple[bytes, bytes]],
    order: list[bytes],
    voluntary: bytes,
    involuntary: bytes,
) -> None:
    """Random lines around the signal block (in the kernel's order or not), then the
    two switch counts; the values of another order are null, never another field's."""
    data = b"Name:\tx\n" + b"".join(key + b":\t" + value + b"\n" for key, value in before)
    data += b"".join(name + b":\t" + mask + b"\n" for name, mask in zip(order, masks, strict=True))
    data += b"".join(key + b":\t" + value + b"\n" for key, value in after)
    data += b"voluntary_ctxt_switches:\t" + voluntary + b"\n"
    data += b"nonvoluntary_ctxt_switches:\t" + involuntary + b"\n"
    assert parse_status(data) == _status_reference(data)


def test_an_unreadable_status_stands_for_the_same_fields() -> None:
    from autoskillit_trace.sampler import _STATUS_FIELDS

    assert sorted(parse_status(b"")) == sorted(_STATUS_FIELDS)


def test_parse_status_of_every_process_here() -> None:
    for path in Path("/proc").glob("[0-9]*/status"):
        with suppress(OSError):
            data = path.read_bytes()
            assert parse_status(data) == _status_reference(data), path
