"""Tests of the streaming anomaly detectors: boundaries, episodes, hostile input."""

from __future__ import annotations

import json
import math
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


def only(snapshots: list[dict[str, Any]], kind: str) -> Anomaly:
    matches = [a for a in detect(snapshots) if a.kind == kind]
    assert len(matches) == 1, matches
    return matches[0]


# --- oom_spike -----------------------------------------------------------------


def test_oom_spike_boundary() -> None:
    assert fired(series("oom_score", [100, 300]), "oom_spike") == []
    assert fired(series("oom_score", [100, 301]), "oom_spike") == [1]
    assert only(series("oom_score", [100, 400]), "oom_spike").detail == {
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
    assert anomaly.detail == {"oom_score": 850, "threshold": 800}


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


def test_zombie_detected_and_persistent_boundary() -> None:
    assert fired(series("zombie_pids", [[], []]), "zombie_detected") == []
    snaps = series("zombie_pids", [[7], [7], [7], [7]])
    assert fired(snaps[:2], "zombie_persistent") == []
    assert fired(snaps, "zombie_detected") == [0]
    assert fired(snaps, "zombie_persistent") == [2]
    persistent = only(snaps, "zombie_persistent")
    assert persistent.pid == 7
    assert persistent.severity == "critical"
    assert persistent.detail == {"zombie_pid": 7, "consecutive": 3}
    assert only(snaps, "zombie_detected").detail == {"zombie_pid": 7, "consecutive": 1}


def test_zombie_streak_broken_when_the_pid_is_no_longer_listed() -> None:
    snaps = series("zombie_pids", [[7], [7], [], [7], [8], [7]])
    assert fired(snaps, "zombie_detected") == [0, 3, 4, 5]
    assert fired(snaps, "zombie_persistent") == []


def test_zombie_missing_list_skips_the_snapshot() -> None:
    for gap in (None, MISSING, "7", ["x"], [True], [0], [-1], [7.0]):
        snaps = series("zombie_pids", [[7], gap, [7], [7]])
        assert fired(snaps, "zombie_detected") == [0], gap
        assert fired(snaps, "zombie_persistent") == [3], gap


def test_zombie_own_state_without_a_list() -> None:
    snaps = series("state", ["zombie", "zombie", None, "zombie"])
    assert fired(snaps, "zombie_detected") == [0]
    assert fired(snaps, "zombie_persistent") == [3]
    assert only(snaps, "zombie_persistent").pid == 100
    # A known non-zombie state ends the own pid's streak ...
    snaps = series("state", ["zombie", "zombie", "running", "zombie", "zombie"])
    assert fired(snaps, "zombie_detected") == [0, 3]
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


def test_zombie_order_is_kind_then_pid() -> None:
    anomalies = detect([snap(0, zombie_pids=[9, 3])], Thresholds(zombie_persistent_snapshots=1))
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


def test_signals_pending_zero_to_nonzero() -> None:
    assert fired(series("sig_pnd", [ZERO, ZERO]), "signals_pending") == []
    assert fired(series("sig_pnd", [ZERO, PENDING]), "signals_pending") == [1]
    anomaly = only(series("sig_pnd", [ZERO, PENDING]), "signals_pending")
    assert anomaly.detail == {"sig_pnd": PENDING}
    assert anomaly.severity == "warning"


def test_signals_pending_first_known_value_nonzero() -> None:
    assert fired(series("sig_pnd", [PENDING, PENDING]), "signals_pending") == []
    assert fired(series("sig_pnd", [None, PENDING, ZERO, PENDING]), "signals_pending") == [3]


def test_signals_pending_compares_with_last_known_value() -> None:
    values = [ZERO, None, MISSING, "00000000000002g0", "", "0x200", 512, PENDING]
    assert fired(series("sig_pnd", values), "signals_pending") == [7]
    values = [ZERO, PENDING, None, PENDING, "zz", ZERO, PENDING]
    assert fired(series("sig_pnd", values), "signals_pending") == [1, 6]


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
    assert anomaly.detail == {
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


# --- fd_high -------------------------------------------------------------------


def test_fd_high_boundary() -> None:
    assert fired(series("fd_count", [80], fd_soft_limit=100), "fd_high") == []
    assert fired(series("fd_count", [800], fd_soft_limit=1000), "fd_high") == []
    assert fired(series("fd_count", [81], fd_soft_limit=100), "fd_high") == [0]
    assert only(series("fd_count", [819], fd_soft_limit=1000), "fd_high").detail == {
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


def d_series(states: list[Any], wchan: Any = "io_schedule") -> list[dict[str, Any]]:
    return series("state", states, wchan=wchan)


def test_d_state_boundary() -> None:
    assert fired(d_series(["disk-sleep"]), "d_state_sustained") == []
    assert fired(d_series(["disk-sleep", "disk-sleep"]), "d_state_sustained") == [1]
    assert only(d_series(["disk-sleep"] * 2), "d_state_sustained").detail == {
        "wchan": "io_schedule",
        "consecutive": 2,
    }


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


# --- high_cpu_sustained --------------------------------------------------------


def test_high_cpu_boundary() -> None:
    assert fired(series("cpu_percent", [89.99, 95.0]), "high_cpu_sustained") == []
    assert fired(series("cpu_percent", [95.0, 89.99, 95.0]), "high_cpu_sustained") == []
    assert fired(series("cpu_percent", [90.0]), "high_cpu_sustained") == []
    assert fired(series("cpu_percent", [90.0, 90]), "high_cpu_sustained") == [1]
    assert only(series("cpu_percent", [150.0, 180.5]), "high_cpu_sustained").detail == {
        "cpu_percent": 180.5,
        "consecutive": 2,
        "threshold": 90.0,
    }


def test_high_cpu_invalid_values_skip() -> None:
    for bad in (None, MISSING, math.nan, math.inf, True, -95.0, "95", [95]):
        values = [95.0, bad, 95.0]
        assert fired(series("cpu_percent", values), "high_cpu_sustained") == [2], bad
        assert fired(series("cpu_percent", [bad, bad]), "high_cpu_sustained") == [], bad


def test_high_cpu_episode() -> None:
    values = [95.0, 99.0, 100.0, 10.0, 95.0, 95.0]
    assert fired(series("cpu_percent", values), "high_cpu_sustained") == [1, 5]


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
        "detail": {"oom_score": 900, "threshold": 800},
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
    common = {"state": "disk-sleep", "wchan": "nfs_wait", "cpu_percent": 95.0}
    snapshots = [
        snap(0, oom_score=0, sig_pnd=ZERO, **common),
        snap(1, oom_score=900, sig_pnd=PENDING, zombie_pids=[5], fd_count=99, fd_soft_limit=100)
        | common,
    ]
    assert [a.kind for a in Detector().feed(snapshots[0])] == []
    detector = Detector()
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
    "tree_threads", "tree_fd_count", "tree_cpu_percent", "zombie_pids",
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
        "sig_pnd": [ZERO, ZERO, PENDING, "zz"],
        "oom_score": [0, 200, 201, 666, 799, 800, 1300],
        "wchan": ["", "0", "io_schedule", "wait_for_vfork_done"],
        "cpu_percent": [0.0, 89.99, 90.0, 150.0],
        "zombie_pids": [[], [], [3], [3, 4], [4, 2]],
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
