"""The one fold of a session's snapshots, on data: peaks, anomalies, counts by kind."""

from __future__ import annotations

from typing import Any

from autoskillit_trace.detect import Detector
from autoskillit_trace.fold import Fold
from autoskillit_trace.summary import Outcome, Peaks


def _snapshots() -> list[dict[str, Any]]:
    """A command whose oom_score turns critical while its RSS grows: 6 snapshots, 1 s apart."""
    out = []
    for seq in range(6):
        out.append({
            "event": "snapshot", "seq": seq, "pid": 10, "ts": f"2026-11-29T10:00:0{seq}.000000Z",
            "elapsed_s": float(seq), "vm_rss_kb": 1000 * (seq + 1), "tree_rss_kb": 1500 * (seq + 1),
            "oom_score": 900 if seq >= 2 else 100, "state": "sleeping", "threads": 1,
            "fd_count": 5, "fd_soft_limit": 1024, "cpu_percent": 1.0,
        })  # fmt: skip
    return out


def test_the_fold_finds_what_the_detector_and_the_peaks_find() -> None:
    fold, detector, peaks = Fold(), Detector(), Peaks()
    from_fold, direct = [], []
    for snapshot in _snapshots():
        from_fold += [a.to_record() for a in fold.feed(snapshot)]
        direct += [a.to_record() for a in detector.feed(snapshot)]
        peaks.feed(snapshot)
    assert from_fold == direct and from_fold  # the same anomalies, and some
    assert fold.peaks.as_fields() == peaks.as_fields()
    assert fold.kinds == {kind: [a["kind"] for a in direct].count(kind) for kind in fold.kinds}
    assert sum(fold.kinds.values()) == len(direct)


def test_a_fold_without_snapshots_makes_an_empty_summary() -> None:
    fold = Fold()
    summary = fold.summary({"session_id": "s", "pid": None}, Outcome(127, "spawn_failed", "x"))
    assert summary["snapshot_count"] == 0 and summary["anomaly_count"] == 0
    assert summary["anomalies_by_kind"] == {}
