"""Tests of the streaming anomaly detectors: boundaries, episodes, hostile input."""

from __future__ import annotations

import json
import math
from signal import SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.detect import (
    BENIGN_WCHANS,
    KINDS,
    SEVERITY,
    Anomaly,
    Detector,
    Thresholds,
    detect,
)

MISSING = object()  # a field left out of the snapshot altogether
ZERO = "0000000000000000"
PENDING = "0000000000000200"


def snap(seq: int, **fields: Any) -> dict[str, Any]:
    """A snapshot at t = seq seconds; fields given as MISSING are left out."""
    record: dict[str, Any] = {
        "ts": f"2024-05-01T12:00:{seq:02d}.000Z",
        "seq": seq,
        "event": "snapshot",
        "pid": 100,
        "elapsed_s": float(seq),
    }
    record.update(fields)
    return {key: value for key, value in record.items() if value is not MISSING}


def series(key: str, values: list[Any], **common: Any) -> list[dict[str, Any]]:
    """One snapshot per value of ``key``, numbered from 0."""
    return [snap(i, **common, **{key: value}) for i, value in enumerate(values)]


def fired(snapshots: list[dict[str, Any]], kind: str, **thresholds: Any) -> list[int | None]:
    """The seq of each snapshot that opened an anomaly of ``kind``."""
    return [a.seq for a in detect(snapshots, Thresholds(**thresholds)) if a.kind == kind]


# What every anomaly adds to its rule's own figures: the process it is about.
NAMES = frozenset({"comm", "cmdline", "parent_pid", "parent_comm"})


def rule_fields(detail: dict[str, Any]) -> dict[str, Any]:
    """An anomaly's detail without the naming of its process."""
    return {key: value for key, value in detail.items() if key not in NAMES}


def only(snapshots: list[dict[str, Any]], kind: str) -> Anomaly:
    matches = [a for a in detect(snapshots) if a.kind == kind]
    assert len(matches) == 1, matches
    return matches[0]


# --- oom_spike -----------------------------------------------------------------


def test_oom_spike_boundary() -> None:
    assert fired(series("oom_score", [100, 300]), "oom_spike") == []
    assert fired(series("oom_score", [100, 301]), "oom_spike") == [1]
    assert rule_fields(only(series("oom_score", [100, 400]), "oom_spike").detail) == {
        "previous": 100,
        "current": 400,
        "delta": 300,
        "threshold": 200,
    }


def test_oom_spike_needs_the_immediately_preceding_value() -> None:
    assert fired(series("oom_score", [100, None, 400]), "oom_spike") == []
    assert fired(series("oom_score", [100, MISSING, 400]), "oom_spike") == []
    assert fired(series("oom_score", [100, "x", 400]), "oom_spike") == []
    assert fired(series("oom_score", [100, True, 400]), "oom_spike") == []


def test_oom_spike_episode() -> None:
    # Successive large rises are one episode; a known small rise (or a drop) clears it.
    assert fired(series("oom_score", [0, 250, 500, 750]), "oom_spike") == [1]
    assert fired(series("oom_score", [0, 300, 300, 700]), "oom_spike") == [1, 3]
    assert fired(series("oom_score", [0, 300, 100, 400]), "oom_spike") == [1, 3]
    # Unknown comparisons neither clear nor re-open it.
    assert fired(series("oom_score", [0, 300, None, 600, 900]), "oom_spike") == [1]


def test_oom_spike_threshold_is_configurable() -> None:
    assert fired(series("oom_score", [0, 51]), "oom_spike", oom_spike_delta=50) == [1]


# --- oom_critical --------------------------------------------------------------


def test_oom_critical_boundary() -> None:
    assert fired(series("oom_score", [799]), "oom_critical") == []
    assert fired(series("oom_score", [800]), "oom_critical") == [0]
    anomaly = only(series("oom_score", [850]), "oom_critical")
    assert anomaly.severity == "critical"
    assert rule_fields(anomaly.detail) == {"oom_score": 850, "threshold": 800}


def test_oom_critical_accepts_scores_above_1000() -> None:
    # Recent kernels report 0..2000 (666 for a small process with oom_score_adj 0).
    assert fired(series("oom_score", [1200]), "oom_critical") == [0]


def test_oom_critical_episode() -> None:
    scores = [800, 900, None, "bad", 850, 799, 800]
    assert fired(series("oom_score", scores), "oom_critical") == [0, 6]


def test_oom_invalid_values_never_trigger() -> None:
    for bad in (900.0, math.inf, math.nan, True, -5, "900", [900], 2**64):
        assert detect(series("oom_score", [0, bad, 0, bad])) == []


# --- zombies -------------------------------------------------------------------


def every(step: float, count: int, **fields: Any) -> list[dict[str, Any]]:
    """``count`` snapshots ``step`` seconds apart (seq = index)."""
    return [snap(i, elapsed_s=round(i * step, 6), **fields) for i in range(count)]


def test_zombie_detected_and_persistent_boundary() -> None:
    assert fired(series("zombie_pids", [[], []]), "zombie_detected") == []
    snaps = series("zombie_pids", [[7], [7], [7], [7]])
    # Seen once, it is a child between its exit and its parent's wait: nothing.
    assert detect(snaps[:1]) == []
    assert fired(snaps[:2], "zombie_persistent") == []
    assert fired(snaps, "zombie_detected") == [1]
    assert fired(snaps, "zombie_persistent") == [2]
    persistent = only(snaps, "zombie_persistent")
    assert persistent.pid == 7
    assert persistent.severity == "critical"
    assert rule_fields(persistent.detail) == {"zombie_pid": 7, "consecutive": 3, "seconds": 2.0}
    detected = rule_fields(only(snaps, "zombie_detected").detail)
    assert detected == {"zombie_pid": 7, "consecutive": 2, "seconds": 1.0}


def test_zombie_streak_must_span_a_second_per_snapshot() -> None:
    # Every 10 ms for 0.99 s: a busy parent that has not reaped yet.
    assert detect(every(0.01, 100, zombie_pids=[7])) == []
    # The same zombie a second later: its parent had time to reap it and did not.
    snaps = every(0.01, 201, zombie_pids=[7])
    assert fired(snaps, "zombie_detected") == [100]
    assert fired(snaps, "zombie_persistent") == [200]
    # At long intervals the counts alone decide, as in the seed.
    assert fired(every(5.0, 3, zombie_pids=[7]), "zombie_persistent") == [2]


def test_a_reused_pid_is_another_zombie() -> None:
    # pid 7 reaped, then taken by another process that is a zombie too.
    reused = [snap(i, zombie_pids=[7], zombie_start_ticks=[1000 + i]) for i in range(4)]
    assert detect(reused) == []
    same = [snap(i, zombie_pids=[7, 9], zombie_start_ticks=[1000, 5]) for i in range(3)]
    assert [(a.kind, a.pid) for a in detect(same)] == [
        ("zombie_detected", 7),
        ("zombie_detected", 9),
        ("zombie_persistent", 7),
        ("zombie_persistent", 9),
    ]
    # Starts that do not match the pids one for one: the pid alone tells them apart.
    for starts in (MISSING, None, [], [1, 2], "1000", 1000):
        snaps = series("zombie_pids", [[7], [7]], zombie_start_ticks=starts)
        assert fired(snaps, "zombie_detected") == [1], starts


def test_zombie_streak_broken_when_the_pid_is_no_longer_listed() -> None:
    snaps = series("zombie_pids", [[7], [7], [], [7], [8], [7]])
    assert fired(snaps, "zombie_detected") == [1]
    assert fired(snaps, "zombie_persistent") == []


def test_zombie_missing_list_skips_the_snapshot() -> None:
    for gap in (None, MISSING, "7", ["x"], [True], [0], [-1], [7.0]):
        snaps = series("zombie_pids", [[7], gap, [7], [7]])
        assert fired(snaps, "zombie_detected") == [2], gap
        assert fired(snaps, "zombie_persistent") == [3], gap
    # Without a time, a zombie cannot count toward a span: skipped too ...
    for elapsed in (None, MISSING, math.nan, True):
        snaps = series("zombie_pids", [[7], [7], [7]])
        snaps[1]["elapsed_s"] = elapsed
        snaps = [{k: v for k, v in s.items() if v is not MISSING} for s in snaps]
        assert fired(snaps, "zombie_detected") == [2], elapsed
        assert fired(snaps, "zombie_persistent") == [], elapsed
    # ... but a list without it says that it is gone, time or not.
    snaps = series("zombie_pids", [[7], [], [7], [7]])
    snaps[1]["elapsed_s"] = None
    assert fired(snaps, "zombie_detected") == [3]


def test_zombie_own_state_without_a_list() -> None:
    snaps = series("state", ["zombie", "zombie", None, "zombie"])
    assert fired(snaps, "zombie_detected") == [1]
    assert fired(snaps, "zombie_persistent") == [3]
    assert only(snaps, "zombie_persistent").pid == 100
    # A known non-zombie state ends the own pid's streak ...
    snaps = series("state", ["zombie", "zombie", "running", "zombie", "zombie"])
    assert fired(snaps, "zombie_detected") == [1, 4]
    assert fired(snaps, "zombie_persistent") == []
    # ... but says nothing about the other pids of the tree.
    snaps = [
        snap(0, zombie_pids=[7]),
        snap(1, zombie_pids=[7]),
        snap(2, state="running"),
        snap(3, zombie_pids=[7]),
    ]
    assert fired(snaps, "zombie_persistent") == [3]


def test_zombie_own_state_counts_with_a_list() -> None:
    snaps = [snap(i, state="zombie", zombie_pids=[]) for i in range(3)]
    assert [(a.kind, a.pid) for a in detect(snaps)] == [
        ("zombie_detected", 100),
        ("zombie_persistent", 100),
    ]
    # Listed with its start as well, it is still one process.
    snaps = [snap(i, state="zombie", zombie_pids=[100], zombie_start_ticks=[3]) for i in range(3)]
    assert [(a.kind, a.pid) for a in detect(snaps)] == [
        ("zombie_detected", 100),
        ("zombie_persistent", 100),
    ]


def test_zombie_order_is_kind_then_pid() -> None:
    at_once = Thresholds(zombie_detected_snapshots=1, zombie_persistent_snapshots=1)
    anomalies = detect([snap(0, zombie_pids=[9, 3])], at_once)
    assert [(a.kind, a.pid) for a in anomalies] == [
        ("zombie_detected", 3),
        ("zombie_detected", 9),
        ("zombie_persistent", 3),
        ("zombie_persistent", 9),
    ]


def test_zombie_state_is_kept_only_for_current_zombies() -> None:
    detector = Detector()
    for i in range(1000):
        detector.feed(snap(i, zombie_pids=[1000 + i]))
    detector.feed(snap(1000, zombie_pids=[]))
    assert all(not getattr(d, "streaks", {}) for d in detector._detectors)


# --- signals_pending -----------------------------------------------------------


def mask(*signals: int) -> str:
    return f"{sum(1 << (s - 1) for s in signals):016x}"


USR1, USR2, CHLD, WINCH = (mask(s) for s in (SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH))
assert USR1 == PENDING


def pending(masks: list[Any], **common: Any) -> list[dict[str, Any]]:
    """sig_pnd series of a process that blocks SIGUSR1 and SIGUSR2 (unless told otherwise)."""
    return series("sig_pnd", masks, **({"sig_blk": mask(SIGUSR1, SIGUSR2)} | common))


def test_signals_pending_when_the_same_signal_stays() -> None:
    assert fired(pending([ZERO, ZERO]), "signals_pending") == []
    assert fired(pending([ZERO, PENDING]), "signals_pending") == []  # not yet known to stay
    assert fired(pending([ZERO, PENDING, PENDING]), "signals_pending") == [2]
    anomaly = only(pending([ZERO, PENDING, PENDING]), "signals_pending")
    assert rule_fields(anomaly.detail) == {
        "sig_pnd": PENDING,
        "signals": [SIGUSR1],
        "consecutive": 2,
        "seconds": 1.0,
    }
    assert anomaly.severity == "warning"


def test_signals_pending_episode() -> None:
    # One episode however long it lasts; a new one after nothing was pending.
    masks = [PENDING] * 4 + [ZERO] + [PENDING] * 2
    assert fired(pending(masks), "signals_pending") == [1, 6]
    # A process starts with nothing pending (fork clears the set): no zero needed first.
    assert fired(pending([PENDING, PENDING]), "signals_pending") == [1]
    # Nothing pending ends it, with or without a time.
    snaps = pending([PENDING, PENDING, ZERO, PENDING, PENDING])
    snaps[2]["elapsed_s"] = None
    assert fired(snaps, "signals_pending") == [1, 4]


def test_signals_pending_another_signal_starts_over() -> None:
    masks = [USR1, USR2, USR2]
    assert fired(pending(masks), "signals_pending") == [2]
    assert only(pending(masks), "signals_pending").detail["signals"] == [SIGUSR2]
    both = mask(SIGUSR1, SIGUSR2)
    assert only(pending([both, USR2]), "signals_pending").detail["signals"] == [SIGUSR2]


def test_signals_pending_skips_unknown_values() -> None:
    values = [ZERO, PENDING, None, MISSING, "00000000000002g0", "", "0x200", 512, "0" * 33]
    assert fired(pending([*values, PENDING]), "signals_pending") == [len(values)]
    values = [ZERO, PENDING, None, PENDING, "zz", ZERO, PENDING]
    assert fired(pending(values), "signals_pending") == [3]
    snaps = pending([PENDING, PENDING, PENDING])
    for elapsed in (None, math.inf, "1"):
        snaps[1]["elapsed_s"] = elapsed
        assert fired(snaps, "signals_pending") == [2], elapsed


def test_signals_pending_must_span_a_second() -> None:
    assert detect(every(0.01, 100, sig_pnd=USR1, sig_blk=USR1)) == []
    assert fired(every(0.01, 101, sig_pnd=USR1, sig_blk=USR1), "signals_pending") == [100]


def test_sigchld_and_signals_that_would_do_nothing_are_left_out() -> None:
    # A shell blocks SIGCHLD around fork on purpose; a parent that does not reap
    # shows up as zombies instead.
    assert detect(pending([CHLD] * 5, sig_blk=CHLD, sig_cgt=CHLD)) == []
    # Without a handler, SIGWINCH (default action: ignore) would do nothing ...
    assert detect(pending([WINCH] * 5, sig_blk=WINCH, sig_cgt=ZERO)) == []
    # ... with one, it is a signal like any other.
    assert fired(pending([WINCH] * 3, sig_blk=WINCH, sig_cgt=WINCH), "signals_pending") == [1]
    # Beside them, what else is pending counts.
    both = mask(SIGCHLD, SIGUSR1)
    assert only(pending([both, both]), "signals_pending").detail["signals"] == [SIGUSR1]


def test_signals_pending_is_the_same_signal_only_if_blocked_or_not_run() -> None:
    def run(blocked: list[str], switches: list[Any]) -> list[int | None]:
        snaps = [
            snap(i, sig_pnd=USR1, sig_blk=b, ctx_switches_voluntary=v, ctx_switches_involuntary=0)
            for i, (b, v) in enumerate(zip(blocked, switches, strict=True))
        ]
        return fired(snaps, "signals_pending")

    # Not blocked, and the process ran in between: it took the signal, this one is new.
    assert run([ZERO] * 4, [1, 2, 3, 4]) == []
    # Not blocked, and it has not run since: still the same one (stopped, or in D).
    assert run([ZERO] * 3, [5, 5, 5]) == [1]
    # Blocked all along: the same one, however much the process runs.
    assert run([USR1] * 3, [1, 2, 3]) == [1]
    # Unblocked in between, it was delivered then.
    assert run([USR1, ZERO, USR1, USR1], [1, 2, 3, 4]) == [3]
    # Unknown switch counts: it may have run.
    assert run([ZERO] * 3, [None] * 3) == []


# --- rss_growth ----------------------------------------------------------------


def rss_series(values: list[Any]) -> list[dict[str, Any]]:
    """A program loading at t=0 (100 kB), then ``values`` from t=1 s on."""
    return [snap(0, vm_rss_kb=100)] + [snap(i + 1, vm_rss_kb=v) for i, v in enumerate(values)]


def test_rss_growth_boundary() -> None:
    # Baseline 1000 kB at seq 1; the 5th snapshot from it inclusive is seq 5.
    assert fired(rss_series([1000, 2001, 2001, 2001, 2000]), "rss_growth") == []
    assert fired(rss_series([1000, 2001, 2001, 2001, 2001]), "rss_growth") == [5]
    assert fired(rss_series([1000] + [2000] * 10), "rss_growth") == []
    anomaly = only(rss_series([1000, 1000, 1000, 1000, 2001]), "rss_growth")
    assert rule_fields(anomaly.detail) == {
        "baseline_rss_kb": 1000,
        "vm_rss_kb": 2001,
        "ratio": 2.0,
        "snapshots": 5,
    }


def test_rss_growth_baseline_skips_warm_up() -> None:
    # Against the t=0 sample (100 kB) every value here would be growth.
    assert fired(rss_series([1000] * 10), "rss_growth") == []
    # Before 1 s, or with no usable rss, a snapshot cannot be the baseline.
    snaps = [
        snap(0, elapsed_s=0.5, vm_rss_kb=100),
        snap(1, elapsed_s=0.99, vm_rss_kb=100),
        snap(2, elapsed_s=1.0, vm_rss_kb=0),
        snap(3, elapsed_s=1.1, vm_rss_kb=None),
        snap(4, elapsed_s=None, vm_rss_kb=100),
        snap(5, elapsed_s=math.nan, vm_rss_kb=100),
        snap(6, elapsed_s=True, vm_rss_kb=100),
        snap(7, elapsed_s=1.2, vm_rss_kb=1000),
    ] + [snap(8 + i, vm_rss_kb=1500) for i in range(10)]
    assert fired(snaps, "rss_growth") == []
    # With no warm-up the t=0.5 s sample (100 kB) is the baseline.
    assert fired(snaps, "rss_growth", rss_baseline_after_s=0.0) == [7]


def test_rss_growth_missing_values_count_toward_n() -> None:
    values: list[Any] = [1000, None, MISSING, "big", 2001]
    assert fired(rss_series(values), "rss_growth") == [5]


def test_rss_growth_episode() -> None:
    values: list[Any] = [1000, 1000, 1000, 1000, 3000, 4000, None, 2500, 2000, 2001]
    assert fired(rss_series(values), "rss_growth") == [5, 10]


def test_rss_growth_baseline_waits_for_a_second_of_the_programs_own_time() -> None:
    # On a busy machine it waited for a CPU half of its first second: still loading then.
    waits = [0.0, 0.5, 0.9, 1.0, 1.1, 1.2, 1.3]
    rss = [100, 1000, 2500, 4000, 4000, 4000, 4000]
    snaps = [
        snap(i, vm_rss_kb=r, sched_wait_s=w)
        for i, (r, w) in enumerate(zip(rss, waits, strict=True))
    ]
    assert fired(snaps, "rss_growth") == []
    assert fired([*snaps, snap(7, vm_rss_kb=5001)], "rss_growth") == [7]  # 2 x 2500
    # Where the waits are unknown, wall time alone decides: 1000 kB at 1 s.
    for unknown in (None, MISSING, -1.0, "0.5"):
        blind = [s | {"sched_wait_s": unknown} for s in snaps]
        blind = [{k: v for k, v in s.items() if v is not MISSING} for s in blind]
        assert fired(blind, "rss_growth") == [5], unknown
    # After an exec, the waits count from the exec: at seq 3 it has had 0.9 s.
    rss = [100, 1000, 2000, 3000, 4000] + [8001] * 4
    waits = [0.0, 0.5, 0.9, 1.0, 1.1] + [1.2] * 4
    snaps = [
        snap(i, comm="sh" if i < 2 else "python3", vm_rss_kb=r, sched_wait_s=w)
        for i, (r, w) in enumerate(zip(rss, waits, strict=True))
    ]
    assert fired(snaps, "rss_growth") == [8]
    assert only(snaps, "rss_growth").detail["baseline_rss_kb"] == 4000


def test_rss_growth_baseline_restarts_when_the_program_changes() -> None:
    # A shell (1000 kB) exec's the real program (10000 kB) after its baseline.
    shell = [snap(i, comm="sh", vm_rss_kb=1000) for i in range(3)]
    steady = [snap(3 + i, comm="python3", vm_rss_kb=10000) for i in range(10)]
    assert fired(shell + steady, "rss_growth") == []
    # The program's own baseline comes a second after the exec (seq 4, 10000 kB) ...
    loading = [snap(3, comm="python3", vm_rss_kb=2000)]
    growing = [snap(4 + i, comm="python3", vm_rss_kb=10000 + 2600 * i) for i in range(6)]
    assert fired(shell + loading + growing, "rss_growth") == [8]
    detail = only(shell + loading + growing, "rss_growth").detail
    assert detail["baseline_rss_kb"] == 10000 and detail["snapshots"] == 5
    # ... and without a known time the change waits for one.
    gap = [snap(3, comm="python3", vm_rss_kb=10000, elapsed_s=None)]
    assert fired(shell + gap + steady[1:], "rss_growth") == []
    # A missing or unchanged comm restarts nothing.
    for later in ("sh", None, MISSING):
        snaps = [snap(i, comm="sh" if i < 3 else later, vm_rss_kb=1000) for i in range(3)]
        snaps += [snap(i, comm=later, vm_rss_kb=10000) for i in range(3, 6)]
        snaps = [{k: v for k, v in s.items() if v is not MISSING} for s in snaps]
        assert fired(snaps, "rss_growth") == [5], later


# --- fd_high -------------------------------------------------------------------


def test_fd_high_boundary() -> None:
    assert fired(series("fd_count", [80], fd_soft_limit=100), "fd_high") == []
    assert fired(series("fd_count", [800], fd_soft_limit=1000), "fd_high") == []
    assert fired(series("fd_count", [81], fd_soft_limit=100), "fd_high") == [0]
    assert rule_fields(only(series("fd_count", [819], fd_soft_limit=1000), "fd_high").detail) == {
        "fd_count": 819,
        "fd_soft_limit": 1000,
        "ratio": 0.819,
        "threshold": 0.8,
    }


def test_fd_high_needs_positive_ints() -> None:
    for limit in (0, None, True, -1, 100.0, "100"):
        assert fired(series("fd_count", [99], fd_soft_limit=limit), "fd_high") == [], limit
    for count in (0, None, True, -1, 99.0, "99"):
        assert fired(series("fd_count", [count], fd_soft_limit=100), "fd_high") == [], count


def test_fd_high_episode() -> None:
    values: list[Any] = [90, 95, None, 99, 80, 85]
    assert fired(series("fd_count", values, fd_soft_limit=100), "fd_high") == [0, 5]


# --- d_state_sustained ---------------------------------------------------------


def d_series(states: list[Any], wchan: Any = "io_schedule", **common: Any) -> list[dict[str, Any]]:
    return series("state", states, wchan=wchan, **common)


def test_d_state_boundary() -> None:
    assert fired(d_series(["disk-sleep"]), "d_state_sustained") == []
    assert fired(d_series(["disk-sleep", "disk-sleep"]), "d_state_sustained") == [1]
    assert rule_fields(only(d_series(["disk-sleep"] * 2), "d_state_sustained").detail) == {
        "wchan": "io_schedule",
        "consecutive": 2,
        "seconds": 1.0,
    }


def test_d_state_must_span_a_second() -> None:
    # 10 ms apart, two snapshots are one disk read; a second is a stuck one.
    stuck = {"state": "disk-sleep", "wchan": "io_schedule"}
    assert detect(every(0.01, 100, **stuck)) == []
    assert fired(every(0.01, 101, **stuck), "d_state_sustained") == [100]


def test_d_state_is_one_sleep() -> None:
    # Woken and asleep again between snapshots (its switch counts moved): busy with I/O.
    busy = [
        snap(i, state="disk-sleep", wchan="io_schedule", ctx_switches_voluntary=i,
             ctx_switches_involuntary=0)
        for i in range(5)
    ]  # fmt: skip
    assert detect(busy) == []
    one = [s | {"ctx_switches_voluntary": 7} for s in busy]
    assert fired(one, "d_state_sustained") == [1]
    # Unknown counts neither restart the sleep nor forget the last known ones.
    gap = [
        one[0],
        one[1] | {"ctx_switches_voluntary": None},
        one[2] | {"ctx_switches_voluntary": 8},
    ]
    assert fired(gap, "d_state_sustained") == [1]


def test_d_state_benign_wchan() -> None:
    assert "wait_for_vfork_done" in BENIGN_WCHANS
    assert "" not in BENIGN_WCHANS and "0" not in BENIGN_WCHANS
    assert fired(d_series(["disk-sleep"] * 5, "wait_for_vfork_done"), "d_state_sustained") == []
    # A benign D sleep is a known "no": it breaks the streak.
    snaps = [
        snap(0, state="disk-sleep", wchan="io_schedule"),
        snap(1, state="disk-sleep", wchan="wait_for_vfork_done"),
        snap(2, state="disk-sleep", wchan="io_schedule"),
    ]
    assert fired(snaps, "d_state_sustained") == []


def test_d_state_unknown_wchan_is_not_benign() -> None:
    for wchan in ("", "0", None, MISSING, 42):
        assert fired(d_series(["disk-sleep"] * 2, wchan), "d_state_sustained") == [1], wchan


def test_d_state_streak_and_episode() -> None:
    assert fired(d_series(["disk-sleep", "running", "disk-sleep"]), "d_state_sustained") == []
    states: list[Any] = ["disk-sleep", None, MISSING, 7, "disk-sleep"]
    assert fired(d_series(states), "d_state_sustained") == [4]
    states = ["disk-sleep"] * 4 + ["sleeping"] + ["disk-sleep"] * 2
    assert fired(d_series(states), "d_state_sustained") == [1, 6]
    # A known "no" needs no time to end it.
    snaps = d_series(["disk-sleep", "disk-sleep", "running", "disk-sleep", "disk-sleep"])
    snaps[2]["elapsed_s"] = None
    assert fired(snaps, "d_state_sustained") == [1, 4]


# --- high_cpu_sustained --------------------------------------------------------


def cpu_every(step: float, values: list[Any]) -> list[dict[str, Any]]:
    """cpu_percent readings ``step`` seconds apart, after a first snapshot without one."""
    return every(step, len(values) + 1)[:1] + [
        snap(i + 1, elapsed_s=round((i + 1) * step, 6), cpu_percent=v) for i, v in enumerate(values)
    ]


def test_high_cpu_boundary() -> None:
    # At the 5 s default each reading is a window, as in the seed's terms.
    assert fired(cpu_every(5.0, [89.99, 95.0]), "high_cpu_sustained") == []
    assert fired(cpu_every(5.0, [95.0, 89.99, 95.0]), "high_cpu_sustained") == []
    assert fired(cpu_every(5.0, [90.0]), "high_cpu_sustained") == []
    assert fired(cpu_every(5.0, [90.0, 90]), "high_cpu_sustained") == [2]
    assert rule_fields(only(cpu_every(5.0, [150.0, 180.5]), "high_cpu_sustained").detail) == {
        "cpu_percent": 165.2,
        "seconds": 10.0,
        "threshold": 90.0,
    }


def test_high_cpu_averages_short_readings() -> None:
    # 10 ms readings come in whole ticks: 0, 100 or 200 %. A core kept busy
    # for 7.9 s is a build or a test run at work ...
    ticks = [100.0, 0.0, 200.0, 100.0] * 200
    assert detect(cpu_every(0.01, ticks[:790])) == []
    # ... and two 4 s windows at >= 90 % are a sustained one, whatever single readings say.
    (anomaly,) = detect(cpu_every(0.01, ticks))
    assert anomaly.seq == 800 and anomaly.detail["seconds"] == 8.0
    assert anomaly.detail["cpu_percent"] == 100.0
    # Half busy is not busy, though half of the readings are 100 % or more.
    assert detect(cpu_every(0.01, [100.0, 0.0] * 1000)) == []


def test_high_cpu_invalid_values_skip() -> None:
    for bad in (None, MISSING, math.nan, math.inf, True, -95.0, "95", [95]):
        values = [95.0, bad, 95.0]
        assert fired(cpu_every(5.0, values), "high_cpu_sustained") == [3], bad
        assert fired(cpu_every(5.0, [bad, bad]), "high_cpu_sustained") == [], bad
    # A reading after a snapshot without a time covers an unknown span: skipped.
    snaps = cpu_every(5.0, [95.0] * 4)
    snaps[1]["elapsed_s"] = None
    assert fired(snaps, "high_cpu_sustained") == [4]
    snaps[3]["elapsed_s"] = 5.0  # and one that goes back in time
    assert fired(snaps, "high_cpu_sustained") == []


def test_high_cpu_episode() -> None:
    values = [95.0, 99.0, 100.0, 10.0, 95.0, 95.0]
    assert fired(cpu_every(5.0, values), "high_cpu_sustained") == [2, 6]


# --- records and the API -------------------------------------------------------


def test_kinds_and_severities() -> None:
    assert KINDS == (
        "oom_spike",
        "oom_critical",
        "zombie_detected",
        "zombie_persistent",
        "signals_pending",
        "rss_growth",
        "fd_high",
        "d_state_sustained",
        "high_cpu_sustained",
        "regression",
    )
    critical = {kind for kind, severity in SEVERITY.items() if severity == "critical"}
    assert critical == {"oom_critical", "zombie_persistent"}
    assert set(SEVERITY) == set(KINDS)
    assert set(SEVERITY.values()) == {"warning", "critical"}


def test_record_shape() -> None:
    snapshots = [snap(0, oom_score=100), snap(1, oom_score=900, comm="x")]
    anomalies = detect(snapshots)
    assert [a.kind for a in anomalies] == ["oom_spike", "oom_critical"]
    record = anomalies[1].to_record()
    assert list(record) == ["ts", "seq", "event", "kind", "severity", "pid", "detail", "snapshot"]
    assert record == {
        "ts": "2024-05-01T12:00:01.000Z",
        "seq": 1,
        "event": "anomaly",
        "kind": "oom_critical",
        "severity": "critical",
        "pid": 100,
        "detail": {"oom_score": 900, "threshold": 800, "comm": "x", "cmdline": None},
        "snapshot": snapshots[1],
    }
    json.dumps(record, allow_nan=False)
    hash(anomalies[0])  # usable in sets despite the dict fields


def test_record_copies_the_snapshot_and_validates_ids() -> None:
    snapshot = snap(0, oom_score=900) | {"ts": 12, "seq": True, "pid": "100"}
    (anomaly,) = detect([snapshot])
    snapshot["oom_score"] = 0
    assert anomaly.snapshot["oom_score"] == 900
    assert (anomaly.ts, anomaly.seq, anomaly.pid) == (None, None, None)


def test_one_snapshot_many_kinds_in_kinds_order() -> None:
    at_once = Thresholds(
        zombie_detected_snapshots=1,
        signals_pending_snapshots=1,
        high_cpu_snapshots=1,
        high_cpu_window_s=0.0,
    )
    common = {"state": "disk-sleep", "wchan": "nfs_wait", "cpu_percent": 95.0}
    snapshots = [
        snap(0, oom_score=0, sig_pnd=ZERO, **common),
        snap(1, oom_score=900, sig_pnd=PENDING, zombie_pids=[5], fd_count=99, fd_soft_limit=100)
        | common,
    ]
    assert [a.kind for a in Detector(at_once).feed(snapshots[0])] == []
    detector = Detector(at_once)
    detector.feed(snapshots[0])
    assert [a.kind for a in detector.feed(snapshots[1])] == [
        "oom_spike",
        "oom_critical",
        "zombie_detected",
        "signals_pending",
        "fd_high",
        "d_state_sustained",
        "high_cpu_sustained",
    ]


def test_non_snapshot_records_are_ignored() -> None:
    records: list[Any] = [
        snap(0, oom_score=100),
        {"event": "anomaly", "kind": "oom_critical", "oom_score": None},
        [1, 2],
        None,
        "text",
        snap(1, oom_score=400),
    ]
    assert [a.kind for a in detect(records)] == ["oom_spike"]
    # An event that is missing or not a string does not disqualify a snapshot.
    assert fired([snap(0, oom_score=900, event=None)], "oom_critical") == [0]
    assert fired([snap(0, oom_score=900, event=MISSING)], "oom_critical") == [0]


# --- properties ----------------------------------------------------------------

KEYS = (
    "ts", "seq", "event", "pid", "elapsed_s", "state", "vm_rss_kb", "threads", "fd_count",
    "fd_soft_limit", "ctx_switches_voluntary", "ctx_switches_involuntary", "sig_pnd", "sig_blk",
    "sig_cgt", "oom_score", "wchan", "comm", "cpu_percent", "tree_procs", "tree_rss_kb",
    "tree_threads", "tree_fd_count", "tree_cpu_percent", "zombie_pids", "zombie_start_ticks",
    "sched_wait_s",
)  # fmt: skip
METRIC_KEYS = set(KEYS) - {"ts", "seq", "event", "pid"}


def junk(allow_nan: bool = True) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=allow_nan),
        st.text(max_size=20),
    )
    return st.one_of(scalars, st.lists(scalars, max_size=4))


def plausible(allow_nan: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly sensible values, so that the detectors actually fire, mixed with junk."""
    sensible: dict[str, list[Any]] = {
        "ts": ["2024-05-01T12:00:00Z"],
        "seq": [0, 1, 2],
        "event": ["snapshot"],
        "pid": [1, 3],
        "elapsed_s": [0.0, 0.5, 1.0, 2.5],
        "state": ["running", "sleeping", "disk-sleep", "disk-sleep", "zombie"],
        "vm_rss_kb": [0, 1000, 2000, 2001, 5000],
        "fd_count": [0, 10, 80, 81, 99],
        "fd_soft_limit": [0, 100],
        "sig_pnd": [ZERO, ZERO, PENDING, PENDING, "zz", mask(SIGCHLD, SIGUSR1)],
        "sig_blk": [ZERO, PENDING],
        "sig_cgt": [ZERO, mask(SIGCHLD)],
        "ctx_switches_voluntary": [1, 1, 2],
        "ctx_switches_involuntary": [0],
        "comm": ["sh", "python3", "python3"],
        "oom_score": [0, 200, 201, 666, 799, 800, 1300],
        "wchan": ["", "0", "io_schedule", "wait_for_vfork_done"],
        "cpu_percent": [0.0, 89.99, 90.0, 150.0],
        "zombie_pids": [[], [], [3], [3, 4], [4, 2]],
        "zombie_start_ticks": [[], [9], [9, 10]],
        "sched_wait_s": [0.0, 0.5, 2.0],
    }
    odd = [None, True, "x", -1, 1.5, [1], math.inf] + ([math.nan] if allow_nan else [])
    return st.fixed_dictionaries(
        {
            key: st.one_of(*[st.sampled_from(values)] * 5, st.sampled_from(odd))
            for key, values in sensible.items()
        }
    )


def arbitrary(allow_nan: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(KEYS), junk(allow_nan), max_size=len(KEYS))


def snapshot_lists(allow_nan: bool = True) -> st.SearchStrategy[list[dict[str, Any]]]:
    snapshots = st.one_of(*[plausible(allow_nan)] * 3, arbitrary(allow_nan))
    return st.lists(snapshots, min_size=3, max_size=15)


FAST = settings(max_examples=60, deadline=None)


@FAST
@given(st.lists(arbitrary(), max_size=15), st.lists(plausible(), max_size=15))
def test_feed_never_raises_and_records_are_sound(
    hostile: list[dict[str, Any]], mixed: list[dict[str, Any]]
) -> None:
    detector = Detector()
    for snapshot in hostile + mixed:
        anomalies = detector.feed(snapshot)
        assert [KINDS.index(a.kind) for a in anomalies] == sorted(
            KINDS.index(a.kind) for a in anomalies
        )
        for anomaly in anomalies:
            assert anomaly.severity == SEVERITY[anomaly.kind]
            assert anomaly.snapshot == snapshot
            json.dumps(anomaly.detail, allow_nan=False)
            assert list(anomaly.to_record())[2] == "event"


@FAST
@given(snapshot_lists())
def test_feeding_one_by_one_equals_detect(snapshots: list[dict[str, Any]]) -> None:
    detector = Detector()
    live = [anomaly for snapshot in snapshots for anomaly in detector.feed(snapshot)]
    assert live == detect(snapshots)


@FAST
@given(snapshot_lists(allow_nan=False))
def test_json_round_trip_gives_the_same_anomalies(snapshots: list[dict[str, Any]]) -> None:
    replayed = [json.loads(json.dumps(snapshot)) for snapshot in snapshots]
    assert detect(replayed) == detect(snapshots)


@FAST
@given(snapshot_lists(), st.integers(0, 3))
def test_a_snapshot_without_metrics_triggers_nothing(
    snapshots: list[dict[str, Any]], seq: int
) -> None:
    detector = Detector()
    for snapshot in snapshots:
        detector.feed(snapshot)
    empty = {key: value for key, value in snap(seq).items() if key not in METRIC_KEYS}
    assert detector.feed(empty) == []


# --- every anomaly names its process -------------------------------------------


def test_an_anomaly_of_the_command_names_it() -> None:
    snaps = series("oom_score", [100, 900], comm="python3")
    found = detect(snaps, command_line="python3 train.py --epochs 3")
    (anomaly,) = [a for a in found if a.kind == "oom_critical"]
    assert anomaly.detail["comm"] == "python3"
    assert anomaly.detail["cmdline"] == "python3 train.py --epochs 3"


def test_a_zombie_names_itself_and_the_parent_that_fails_to_reap_it() -> None:
    named = {
        "zombie_start_ticks": [5],
        "zombie_comms": ["make"],
        "zombie_cmdlines": ["make -C sub"],
        "zombie_ppids": [100],
        "zombie_parent_comms": ["bash"],
    }
    anomaly = only(series("zombie_pids", [[7], [7]], **named), "zombie_detected")
    assert anomaly.detail == {
        "zombie_pid": 7,
        "consecutive": 2,
        "seconds": 1.0,
        "comm": "make",
        "cmdline": "make -C sub",
        "parent_pid": 100,
        "parent_comm": "bash",
    }
    # Lists that do not match zombie_pids one for one name nothing rather than the wrong one.
    broken = {**named, "zombie_comms": ["make", "extra"]}
    anomaly = only(series("zombie_pids", [[7], [7]], **broken), "zombie_detected")
    assert anomaly.detail["comm"] is None and anomaly.detail["parent_comm"] == "bash"
