"""Streaming anomaly detectors over a series of process snapshots.

Pure code with constant memory, so the supervisor can run it live, one
snapshot at a time, and crash recovery can replay the JSONL trace afterwards
with identical results.

Semantics shared by every kind:

- One anomaly per *episode*: a condition that holds over many snapshots is
  reported once, and again only after a snapshot where it is known to be false.
- Snapshots read back from a file may be corrupt, so nothing here raises on
  any mapping. A value of the wrong type (bool for a number, NaN/inf, a
  negative or absurdly large count, a non-hex mask) counts as missing.
- A missing value never triggers anything: a snapshot lacking what a detector
  needs is skipped by it, neither counting toward nor breaking a streak,
  neither opening nor closing an episode.
- Records that are not snapshots (not a mapping, or an ``event`` other than
  "snapshot") are ignored, so replaying a mixed trace changes nothing.

Per kind:

- oom_spike: oom_score minus the immediately preceding snapshot's (unknown
  if either is missing) > threshold; a known rise <= threshold clears.
  Scores above 1000 are valid: recent kernels (5.9+) report 0..2000, 666
  for a small process with oom_score_adj 0.
- signals_pending: sig_pnd goes from zero to non-zero, compared with the last
  *known* value; a series that starts non-zero fires only after a zero.
- rss_growth: the baseline is the first snapshot at elapsed_s >= 1 s with a
  vm_rss_kb > 0 (at t=0 a program is still loading); the condition is known
  once n >= 5 snapshots have been seen from the baseline inclusive (every
  snapshot counts, even one without vm_rss_kb) and vm_rss_kb is present.
- zombies: per pid. zombie_pids, when present, is the full list, so a pid not
  in it is no longer a zombie; the snapshot's own state speaks for its pid.
- d_state_sustained: known whenever state is; true for "disk-sleep" unless
  wchan is in BENIGN_WCHANS (a missing, empty or "0" wchan is unknown, and
  the sampler writes None for those, so it does not exempt the process).
- d_state_sustained, high_cpu_sustained: streaks of known values; fire when
  the streak reaches the threshold; a known false resets streak and episode.
- fd_high: the ratio needs fd_count > 0 and fd_soft_limit > 0.
"""

from __future__ import annotations

import math

from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    Finding = tuple[str, int | None, dict[str, Any]]


class Thresholds(Record):
    """Detector limits; see the module docstring for how each is applied."""

    __slots__ = (
        "d_state_snapshots",
        "fd_high_ratio",
        "high_cpu_percent",
        "high_cpu_snapshots",
        "oom_critical_score",
        "oom_spike_delta",
        "rss_baseline_after_s",
        "rss_growth_factor",
        "rss_growth_min_snapshots",
        "zombie_persistent_snapshots",
    )  # fmt: skip

    def __init__(
        self,
        oom_spike_delta: int = 200,  # rise strictly greater than this between consecutive snapshots
        oom_critical_score: int = 800,  # oom_score >= this
        zombie_persistent_snapshots: int = 3,  # same pid zombie in >= this many in a row
        rss_growth_factor: float = 2.0,  # vm_rss_kb strictly greater than factor * baseline
        rss_growth_min_snapshots: int = 5,  # ... over >= this many snapshots, baseline included
        rss_baseline_after_s: float = 1.0,  # skip the t=0 sample of a program still loading
        fd_high_ratio: float = 0.80,  # fd_count / fd_soft_limit strictly greater
        d_state_snapshots: int = 2,  # non-benign "disk-sleep" in >= this many in a row
        high_cpu_percent: float = 90.0,  # cpu_percent >= this
        high_cpu_snapshots: int = 2,  # ... in >= this many consecutive snapshots
    ) -> None:
        self.oom_spike_delta = oom_spike_delta
        self.oom_critical_score = oom_critical_score
        self.zombie_persistent_snapshots = zombie_persistent_snapshots
        self.rss_growth_factor = rss_growth_factor
        self.rss_growth_min_snapshots = rss_growth_min_snapshots
        self.rss_baseline_after_s = rss_baseline_after_s
        self.fd_high_ratio = fd_high_ratio
        self.d_state_snapshots = d_state_snapshots
        self.high_cpu_percent = high_cpu_percent
        self.high_cpu_snapshots = high_cpu_snapshots


DEFAULT_THRESHOLDS = Thresholds()

# Wait channels where uninterruptible sleep is expected and harmless.
BENIGN_WCHANS: frozenset[str] = frozenset(
    {
        # A vfork()/posix_spawn() parent sleeps in D (TASK_KILLABLE) until its
        # child execs or exits. The symbol shown depends on inlining and the
        # kernel version: kernel_clone (5.10+; seen on 6.x), _do_fork (4.x-5.9),
        # do_fork (older), or wait_for_vfork_done itself.
        "wait_for_vfork_done",
        "kernel_clone",
        "_do_fork",
        "do_fork",
        # Frozen by the cgroup v1 freezer or for suspend: deliberate, not I/O.
        "__refrigerator",
    }
)

KINDS: tuple[str, ...] = (
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

SEVERITY: dict[str, str] = {kind: "warning" for kind in KINDS}
SEVERITY["oom_critical"] = "critical"
SEVERITY["zombie_persistent"] = "critical"

_ORDER = {kind: index for index, kind in enumerate(KINDS)}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_MAX_COUNT = 2**63  # kernel counters are 64-bit; beyond is corrupt (and overflows floats)
_MAX_PID = 2**31  # pid_t is a signed 32-bit int


class Anomaly(Record):
    """One episode of one kind, with the snapshot that opened it."""

    __slots__ = ("detail", "kind", "pid", "seq", "severity", "snapshot", "ts")

    def __init__(
        self,
        kind: str,
        severity: str,
        ts: str | None,
        seq: int | None,
        pid: int | None,
        detail: dict[str, Any],
        snapshot: dict[str, Any],
    ) -> None:
        self.kind = kind
        self.severity = severity
        self.ts = ts
        self.seq = seq
        self.pid = pid
        self.detail = detail
        self.snapshot = snapshot

    def __hash__(self) -> int:  # usable in sets; the dict fields take part in equality only
        return hash((self.kind, self.severity, self.ts, self.seq, self.pid))

    def to_record(self) -> dict[str, Any]:
        """The JSONL record, keys in a fixed order."""
        return {
            "ts": self.ts,
            "seq": self.seq,
            "event": "anomaly",
            "kind": self.kind,
            "severity": self.severity,
            "pid": self.pid,
            "detail": self.detail,
            "snapshot": self.snapshot,
        }


# --- value validation: anything unusable becomes None -------------------------


def _int(value: Any, low: int, high: int) -> int | None:
    """An int (bool excluded) with low <= value < high."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value < high:
        return value
    return None


def _count(value: Any) -> int | None:
    return _int(value, 0, _MAX_COUNT)


def _pid(value: Any) -> int | None:
    return _int(value, 1, _MAX_PID)


def _real(value: Any) -> float | None:
    """A finite, non-negative number (bool excluded)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _count(value)
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return value
    return None


def _mask_nonzero(value: Any) -> bool | None:
    """Whether a hex signal mask has any bit set; None if not a hex string."""
    if not isinstance(value, str) or not value or not _HEX_DIGITS.issuperset(value):
        return None
    return value.strip("0") != ""


def _zombie_list(value: Any) -> set[int] | None:
    """The zombie pids, or None unless every entry is a valid pid."""
    if not isinstance(value, (list, tuple)):
        return None
    pids: set[int] = set()
    for item in value:
        pid = _pid(item)
        if pid is None:
            return None
        pids.add(pid)
    return pids


# --- building blocks ----------------------------------------------------------

# (kind, pid when not the snapshot's own, detail)


class _Streak:
    """Consecutive known-true snapshots, and whether this episode has fired.

    With ``needed=1`` it is the plain episode latch of the one-snapshot kinds.
    """

    def __init__(self, needed: int) -> None:
        self.needed = max(1, needed)
        self.count = 0
        self.fired = False

    def update(self, condition: bool | None) -> bool:
        """Feed one snapshot's condition (None: unknown); True when it opens an episode."""
        if condition is None:
            return False
        if not condition:
            self.count, self.fired = 0, False
            return False
        self.count += 1
        if self.fired or self.count < self.needed:
            return False
        self.fired = True
        return True


class _OomSpike:
    """Compares with the previous snapshot only: a rise spread over a gap is unknown."""

    def __init__(self, t: Thresholds) -> None:
        self.delta = t.oom_spike_delta
        self.previous: int | None = None
        self.episode = _Streak(1)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        current = _count(s.get("oom_score"))
        previous, self.previous = self.previous, current
        if current is None or previous is None:
            return []
        delta = current - previous
        if not self.episode.update(delta > self.delta):
            return []
        detail = {"previous": previous, "current": current, "delta": delta, "threshold": self.delta}
        return [("oom_spike", None, detail)]


class _OomCritical:
    def __init__(self, t: Thresholds) -> None:
        self.score = t.oom_critical_score
        self.episode = _Streak(1)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        score = _count(s.get("oom_score"))
        if not self.episode.update(None if score is None else score >= self.score):
            return []
        return [("oom_critical", None, {"oom_score": score, "threshold": self.score})]


class _Zombies:
    """Per-pid streaks, kept only for pids that are zombies right now."""

    def __init__(self, t: Thresholds) -> None:
        self.needed = max(1, t.zombie_persistent_snapshots)
        self.streaks: dict[int, int] = {}

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        listed = _zombie_list(s.get("zombie_pids"))
        state, pid = s.get("state"), _pid(s.get("pid"))
        own = pid if isinstance(state, str) else None  # the pid whose state is known
        if listed is not None:  # the whole tree is known: unlisted pids are not zombies
            zombies = listed | {own} if own is not None and state == "zombie" else listed
            for gone in set(self.streaks) - zombies:
                del self.streaks[gone]
        elif own is None:
            return []
        elif state == "zombie":  # only the snapshot's own pid is known
            zombies = {own}
        else:
            self.streaks.pop(own, None)
            return []
        return self._advance(sorted(zombies))

    def _advance(self, pids: list[int]) -> list[Finding]:
        detected: list[Finding] = []
        persistent: list[Finding] = []
        for pid in pids:
            count = self.streaks.get(pid, 0) + 1
            self.streaks[pid] = count
            detail = {"zombie_pid": pid, "consecutive": count}
            if count == 1:
                detected.append(("zombie_detected", pid, detail))
            if count == self.needed:
                persistent.append(("zombie_persistent", pid, dict(detail)))
        return detected + persistent


class _SignalsPending:
    """Transition-based: a mask stuck non-zero is one episode however long it lasts."""

    def __init__(self, t: Thresholds) -> None:
        self.last_nonzero: bool | None = None  # the last known sig_pnd

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        nonzero = _mask_nonzero(s.get("sig_pnd"))
        if nonzero is None:
            return []
        was_zero, self.last_nonzero = self.last_nonzero is False, nonzero
        return (
            [("signals_pending", None, {"sig_pnd": s["sig_pnd"]})] if nonzero and was_zero else []
        )


class _RssGrowth:
    """Growth against a baseline taken once the program has loaded."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.baseline: int | None = None
        self.seen = 0  # snapshots from the baseline, inclusive
        self.episode = _Streak(1)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        rss = _count(s.get("vm_rss_kb"))
        if self.baseline is None:
            elapsed = _real(s.get("elapsed_s"))
            if elapsed is None or elapsed < self.t.rss_baseline_after_s or not rss:
                return []
            self.baseline = rss
        self.seen += 1
        if rss is None or self.seen < self.t.rss_growth_min_snapshots:
            return []
        if not self.episode.update(rss > self.t.rss_growth_factor * self.baseline):
            return []
        detail = {
            "baseline_rss_kb": self.baseline,
            "vm_rss_kb": rss,
            "ratio": round(rss / self.baseline, 2),
            "snapshots": self.seen,
        }
        return [("rss_growth", None, detail)]


class _FdHigh:
    def __init__(self, t: Thresholds) -> None:
        self.ratio = t.fd_high_ratio
        self.episode = _Streak(1)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        fds, limit = _count(s.get("fd_count")), _count(s.get("fd_soft_limit"))
        if not fds or not limit:
            return []
        ratio = fds / limit
        if not self.episode.update(ratio > self.ratio):
            return []
        detail = {
            "fd_count": fds,
            "fd_soft_limit": limit,
            "ratio": round(ratio, 3),
            "threshold": self.ratio,
        }
        return [("fd_high", None, detail)]


class _DState:
    def __init__(self, t: Thresholds) -> None:
        self.streak = _Streak(t.d_state_snapshots)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        state, wchan = s.get("state"), s.get("wchan")
        if not isinstance(state, str):
            return []
        benign = isinstance(wchan, str) and wchan in BENIGN_WCHANS
        if not self.streak.update(state == "disk-sleep" and not benign):
            return []
        detail = {
            "wchan": wchan if isinstance(wchan, str) else None,
            "consecutive": self.streak.count,
        }
        return [("d_state_sustained", None, detail)]


class _HighCpu:
    def __init__(self, t: Thresholds) -> None:
        self.percent = t.high_cpu_percent
        self.streak = _Streak(t.high_cpu_snapshots)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        cpu = _real(s.get("cpu_percent"))
        if not self.streak.update(None if cpu is None else cpu >= self.percent):
            return []
        detail = {"cpu_percent": cpu, "consecutive": self.streak.count, "threshold": self.percent}
        return [("high_cpu_sustained", None, detail)]


# --- public entry points ------------------------------------------------------

_DETECTORS = (
    _OomSpike,
    _OomCritical,
    _Zombies,
    _SignalsPending,
    _RssGrowth,
    _FdHigh,
    _DState,
    _HighCpu,
)


class Detector:
    """All kinds over one series; feed it snapshots in order."""

    def __init__(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.thresholds = thresholds
        self._detectors = [cls(thresholds) for cls in _DETECTORS]

    def feed(self, snapshot: Mapping[str, Any]) -> list[Anomaly]:
        """The anomalies this snapshot opens, in KINDS order (zombies by pid)."""
        if not isinstance(snapshot, dict):  # a JSON object, live or read back
            return []
        event = snapshot.get("event")
        if isinstance(event, str) and event != "snapshot":
            return []
        findings: list[Finding] = []
        for detector in self._detectors:  # a loop, not a comprehension: no extra frame (3.11)
            findings += detector.feed(snapshot)
        if not findings:
            return []
        findings.sort(key=lambda f: (_ORDER[f[0]], f[1] or 0))
        ts, seq = snapshot.get("ts"), snapshot.get("seq")
        own_pid = _pid(snapshot.get("pid"))
        return [
            Anomaly(
                kind=kind,
                severity=SEVERITY[kind],
                ts=ts if isinstance(ts, str) else None,
                seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
                pid=own_pid if pid is None else pid,
                detail=detail,
                snapshot=dict(snapshot),
            )
            for kind, pid, detail in findings
        ]


def detect(
    snapshots: Iterable[Mapping[str, Any]], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Anomaly]:
    """Run a fresh Detector over a whole series; equals feeding them one by one."""
    detector = Detector(thresholds)
    return [anomaly for snapshot in snapshots for anomaly in detector.feed(snapshot)]
