"""Streaming anomaly detectors over a series of process snapshots.

Pure code with constant memory, so the supervisor can run it live, one
snapshot at a time, and crash recovery can replay the JSONL trace afterwards
with identical results.

Semantics shared by every kind:

- One anomaly per *episode*: a condition that holds over many snapshots is
  reported once, and again only after a snapshot where it is known to be false
  (or, for the kinds that tell instances apart, where another one began).
- Snapshots read back from a file may be corrupt, so nothing here raises on
  any mapping. A value of the wrong type (bool for a number, NaN/inf, a
  negative or absurdly large count, a non-hex mask) counts as missing.
- A missing value never triggers anything: a snapshot lacking what a detector
  needs is skipped by it, neither counting toward nor breaking a streak,
  neither opening nor closing an episode.
- Records that are not snapshots (not a mapping, or an ``event`` other than
  "snapshot") are ignored, so replaying a mixed trace changes nothing.

Persistence.  A rule that needs a condition to last (the zombie kinds,
signals_pending, d_state_sustained) fires once it holds in N consecutive
snapshots *and* those span at least (N - 1) x streak_spacing_s (1 s).  The
seed's counts were written for its 5 s default interval; at 0.01 s, three
snapshots are 20 ms, shorter than a busy scheduler's delays, and healthy
work (a shell between fork and reaping, an fsync) fills them.  At intervals
of 1 s and more the counts alone decide, as in the seed.  Where a snapshot
can tell one long condition from many short ones, only the same one counts:
the same zombie process, the same signal still pending, the same sleep.
elapsed_s is needed to count a snapshot toward such a streak, not to end it.

Per kind:

- oom_spike: oom_score minus the immediately preceding snapshot's (unknown
  if either is missing) > threshold; a known rise <= threshold clears.
  Scores above 1000 are valid: recent kernels (5.9+) report 0..2000, 666
  for a small process with oom_score_adj 0.
- zombies: per process, told apart by pid and start time (zombie_start_ticks,
  parallel to zombie_pids; a reused pid is another process).  zombie_pids,
  when present, is the full list, so a process not in it is no longer a
  zombie; the snapshot's own state speaks for its pid.  zombie_detected needs
  the same zombie seen again (2 snapshots, >= 1 s): its parent had time to
  reap it and did not; one sighting is a child between exit and reaping.
- signals_pending: the command's pending mask minus what cannot be stuck:
  SIGCHLD (how a parent hears of its children; one that does not reap shows
  as a zombie) and signals whose delivery does nothing (default action ignore,
  no handler).  It fires when a signal stays pending (2 snapshots, >= 1 s).
  The same signal, not a new one: between two snapshots it must be blocked at
  both, or the command must not have run (its context-switch counts are
  unchanged, when known); a process that runs takes an unblocked signal at
  once.  The episode ends when nothing is pending.  A process starts with
  nothing pending (fork clears the set), so no zero is needed first.
- rss_growth: the baseline is the first snapshot with a vm_rss_kb > 0 once
  the program has had rss_baseline_after_s (1 s) of its own time: since it
  started, less the time it waited for a CPU (sched_wait_s, when known both
  then and now); a program is still loading at first, on a busy machine for
  longer.  The program starts at 0, and again when comm changes (an exec: a
  shell that exec's the real program is not its baseline), which restarts
  everything.  The condition is known once n >= 5 snapshots have been seen
  from the baseline inclusive (every snapshot counts, even one without
  vm_rss_kb) and vm_rss_kb is present.
- d_state_sustained: known whenever state is; true for "disk-sleep" unless
  wchan is in BENIGN_WCHANS (a missing, empty or "0" wchan is unknown, and
  the sampler writes None for those, so it does not exempt the process).
  It must be one sleep: a change of the context-switch counts between two
  snapshots means the process woke and slept again, which restarts it.
- high_cpu_sustained: cpu_percent is averaged over windows of at least
  high_cpu_window_s (4 s), weighted by the time each snapshot covers; it
  fires when 2 consecutive windows average >= 90 %.  At the 5 s default each
  snapshot is a window, as in the seed's terms; at short intervals a reading
  is 0, 100 or 200 % (CPU time comes in 10 ms ticks), and builds and test
  runs hold a core for seconds as their normal work.
- streaks count known values only, and a known false resets streak and
  episode.
- fd_high: the ratio needs fd_count > 0 and fd_soft_limit > 0.
"""

from __future__ import annotations

from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Iterable, Mapping
    from typing import Any

    Finding = tuple[str, int | None, dict[str, Any]]
else:
    try:  # signal.py's enums cost ``run`` ~4 ms (see supervisor.py): the numbers suffice
        import _signal as signal
    except ImportError:  # another Python
        import signal


class Thresholds(Record):
    """Detector limits; see the module docstring for how each is applied."""

    __slots__ = (
        "d_state_snapshots",
        "fd_high_ratio",
        "high_cpu_percent",
        "high_cpu_snapshots",
        "high_cpu_window_s",
        "oom_critical_score",
        "oom_spike_delta",
        "rss_baseline_after_s",
        "rss_growth_factor",
        "rss_growth_min_snapshots",
        "signals_pending_snapshots",
        "streak_spacing_s",
        "zombie_detected_snapshots",
        "zombie_persistent_snapshots",
    )  # fmt: skip

    def __init__(
        self,
        oom_spike_delta: int = 200,  # rise strictly greater than this between consecutive snapshots
        oom_critical_score: int = 800,  # oom_score >= this
        zombie_detected_snapshots: int = 2,  # the same zombie seen again: not reaped in time
        zombie_persistent_snapshots: int = 3,  # the same zombie in >= this many in a row
        signals_pending_snapshots: int = 2,  # the same signal still pending: not taken
        rss_growth_factor: float = 2.0,  # vm_rss_kb strictly greater than factor * baseline
        rss_growth_min_snapshots: int = 5,  # ... over >= this many snapshots, baseline included
        rss_baseline_after_s: float = 1.0,  # skip the first second of a program still loading
        fd_high_ratio: float = 0.80,  # fd_count / fd_soft_limit strictly greater
        d_state_snapshots: int = 2,  # non-benign "disk-sleep" in >= this many in a row
        high_cpu_percent: float = 90.0,  # cpu_percent >= this
        high_cpu_snapshots: int = 2,  # ... in >= this many consecutive windows
        high_cpu_window_s: float = 4.0,  # ... each averaging >= this long (one 5 s snapshot)
        streak_spacing_s: float = 1.0,  # N snapshots in a row must span >= (N - 1) x this
    ) -> None:
        self.oom_spike_delta = oom_spike_delta
        self.oom_critical_score = oom_critical_score
        self.zombie_detected_snapshots = zombie_detected_snapshots
        self.zombie_persistent_snapshots = zombie_persistent_snapshots
        self.signals_pending_snapshots = signals_pending_snapshots
        self.rss_growth_factor = rss_growth_factor
        self.rss_growth_min_snapshots = rss_growth_min_snapshots
        self.rss_baseline_after_s = rss_baseline_after_s
        self.fd_high_ratio = fd_high_ratio
        self.d_state_snapshots = d_state_snapshots
        self.high_cpu_percent = high_cpu_percent
        self.high_cpu_snapshots = high_cpu_snapshots
        self.high_cpu_window_s = high_cpu_window_s
        self.streak_spacing_s = streak_spacing_s


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
    "regression",  # no snapshot rule: regress.py compares a finished session with its job's runs
)

SEVERITY: dict[str, str] = {kind: "warning" for kind in KINDS}
SEVERITY["oom_critical"] = "critical"
SEVERITY["zombie_persistent"] = "critical"

_ORDER = {kind: index for index, kind in enumerate(KINDS)}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_NO_SIGNALS = "0" * 16  # the usual mask
_MAX_COUNT = 2**63  # kernel counters are 64-bit; beyond is corrupt (and overflows floats)
_MAX_PID = 2**31  # pid_t is a signed 32-bit int
# Not math.isfinite: math is a shared library, ~1 ms to load at the first snapshot.
_INFINITY = float("inf")


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
    return value if value.__class__ is int and low <= value < high else None


def _count(value: Any) -> int | None:
    """A kernel counter: an int in [0, 2**63)."""
    return _int(value, 0, _MAX_COUNT)


def _pid(value: Any) -> int | None:
    return _int(value, 1, _MAX_PID)


def _real(value: Any) -> float | None:
    """A finite, non-negative number (bool excluded; NaN compares false)."""
    if value.__class__ is float:
        return value if 0 <= value < _INFINITY else None
    return _count(value)


def _mask(value: Any) -> int | None:
    """A hex signal mask (the kernel writes 16 digits); None if not one."""
    if value == _NO_SIGNALS:
        return 0
    if not isinstance(value, str) or not 0 < len(value) <= 32:
        return None
    if not _HEX_DIGITS.issuperset(value):
        return None
    return int(value, 16)


def _switches(s: Mapping[str, Any]) -> tuple[int, int] | None:
    """The context-switch counts: when they have not moved, the process has not run."""
    voluntary = _count(s.get("ctx_switches_voluntary"))
    involuntary = _count(s.get("ctx_switches_involuntary"))
    if voluntary is None or involuntary is None:
        return None
    return voluntary, involuntary


def _zombie_list(value: Any) -> list[int] | None:
    """The zombie pids, or None unless every entry is a valid pid."""
    if not isinstance(value, (list, tuple)):
        return None
    pids: list[int] = []
    for item in value:
        pid = _pid(item)
        if pid is None:
            return None
        pids.append(pid)
    return pids


def _zombie_ids(s: Mapping[str, Any]) -> set[tuple[int, int | None]] | None:
    """Each zombie as (pid, start ticks); the start is None when not recorded.

    A start list that does not match the pids one for one is ignored.
    """
    pids = _zombie_list(s.get("zombie_pids"))
    if not pids:
        return None if pids is None else set()
    starts = s.get("zombie_start_ticks")
    if isinstance(starts, (list, tuple)) and len(starts) == len(pids):
        return {(pid, _count(start)) for pid, start in zip(pids, starts, strict=True)}
    return {(pid, None) for pid in pids}


# --- building blocks ----------------------------------------------------------

# (kind, pid when not the snapshot's own, detail)


class _Streak:
    """Consecutive known-true snapshots, and whether this episode has fired.

    It fires once ``needed`` snapshots in a row span at least
    ``(needed - 1) * spacing`` seconds (elapsed_s, to the microsecond).
    With ``needed=1`` it is the plain episode latch of the one-snapshot kinds.
    """

    def __init__(self, needed: int, spacing: float = 0.0) -> None:
        self.needed = max(1, needed)
        self.span = (self.needed - 1) * spacing
        self.count = 0
        self.since = 0.0  # elapsed_s of the streak's first snapshot
        self.fired = False

    def update(self, condition: bool | None, elapsed: float = 0.0) -> bool:
        """Feed one snapshot's condition (None: unknown); True when it opens an episode."""
        if condition is None:
            return False
        if not condition:
            self.restart()
            return False
        if not self.count:
            self.since = elapsed
        self.count += 1
        if self.fired or self.count < self.needed or round(elapsed - self.since, 6) < self.span:
            return False
        self.fired = True
        return True

    def restart(self) -> None:
        """End the streak and its episode: the condition stopped, or another instance began."""
        self.count, self.fired = 0, False

    def lasted(self, elapsed: float) -> float:
        """Seconds since the streak's first snapshot."""
        return round(elapsed - self.since, 3)


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
    """Per-process streaks (pid and start time), kept only for current zombies."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.streaks: dict[tuple[int, int | None], tuple[_Streak, _Streak]] = {}

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        listed, state = _zombie_ids(s), s.get("state")
        if not listed and not self.streaks and state != "zombie":
            return []  # the usual snapshot: no zombie, now or before
        own = _pid(s.get("pid")) if isinstance(state, str) else None  # the pid whose state is known
        if listed is not None:  # the whole tree is known: unlisted ones are not zombies
            zombies = listed
            if own is not None and state == "zombie" and all(p != own for p, _ in listed):
                zombies = listed | {(own, None)}
            for gone in set(self.streaks) - zombies:
                del self.streaks[gone]
        elif own is None:
            return []
        elif state == "zombie":  # only the snapshot's own pid is known
            zombies = {(own, None)}
        else:
            for gone in [key for key in self.streaks if key[0] == own]:
                del self.streaks[gone]
            return []
        elapsed = _real(s.get("elapsed_s"))  # needed to count a zombie, not to end one
        if elapsed is None or not zombies:
            return []
        found = self._advance(sorted(zombies, key=lambda z: (z[0], z[1] or 0)), elapsed)
        if found:
            who = _zombies_named(s)
            for _kind, pid, detail in found:
                detail.update(who.get(pid, _UNNAMED_ZOMBIE))
        return found

    def _advance(self, zombies: list[tuple[int, int | None]], elapsed: float) -> list[Finding]:
        detected: list[Finding] = []
        persistent: list[Finding] = []
        spacing = self.t.streak_spacing_s
        for key in zombies:
            pair = self.streaks.get(key)
            if pair is None:
                pair = self.streaks[key] = (
                    _Streak(self.t.zombie_detected_snapshots, spacing),
                    _Streak(self.t.zombie_persistent_snapshots, spacing),
                )
            seen, kept = pair[0].update(True, elapsed), pair[1].update(True, elapsed)
            detail = {
                "zombie_pid": key[0],
                "consecutive": pair[1].count,
                "seconds": pair[1].lasted(elapsed),
            }
            if seen:
                detected.append(("zombie_detected", key[0], detail))
            if kept:
                persistent.append(("zombie_persistent", key[0], dict(detail)))
        return detected + persistent


_UNNAMED_ZOMBIE = {"comm": None, "cmdline": None, "parent_pid": None, "parent_comm": None}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _zombies_named(s: Mapping[str, Any]) -> dict[int | None, dict[str, Any]]:
    """Each zombie's comm and command line, and its parent that fails to reap it, from
    the lists parallel to zombie_pids (the sampler's and the session's); None where unknown."""
    pids = _zombie_list(s.get("zombie_pids")) or []
    columns = [
        s.get(key)
        for key in ("zombie_comms", "zombie_cmdlines", "zombie_ppids", "zombie_parent_comms")
    ]
    columns = [c if isinstance(c, (list, tuple)) and len(c) == len(pids) else None for c in columns]
    named: dict[int | None, dict[str, Any]] = {}
    for at, pid in enumerate(pids):
        comm, cmdline, ppid, parent = (c[at] if c is not None else None for c in columns)
        named[pid] = {
            "comm": _text(comm),
            "cmdline": _text(cmdline),
            "parent_pid": _pid(ppid),
            "parent_comm": _text(parent),
        }
    return named


def _bit(signum: int) -> int:
    return 1 << (signum - 1)


# SIGCHLD is how a parent hears of its children (a shell blocks it around fork
# on purpose); one that does not reap them shows as zombie_* instead.
_SIGCHLD = _bit(signal.SIGCHLD)
# Default action "ignore" (SIGCONT's effect happens when it is sent): delivered
# to a process without a handler for them, they do nothing.
_NO_EFFECT = _SIGCHLD | _bit(signal.SIGCONT) | _bit(signal.SIGURG) | _bit(signal.SIGWINCH)


class _SignalsPending:
    """The same signal still pending, not one taken and sent again in between."""

    def __init__(self, t: Thresholds) -> None:
        self.streak = _Streak(t.signals_pending_snapshots, t.streak_spacing_s)
        self.held = 0  # the signals pending at every snapshot of the streak
        self.blocked = 0  # the blocked mask at the last snapshot
        self.switches: tuple[int, int] | None = None  # at the last snapshot

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        pending = _mask(s.get("sig_pnd"))
        if pending:
            pending &= ~(_SIGCHLD | (_NO_EFFECT & ~(_mask(s.get("sig_cgt")) or 0)))
        if pending == 0:  # nothing (that could be stuck) pending: known without a time
            self.streak.restart()
            self.held = 0
            return []
        elapsed = _real(s.get("elapsed_s"))
        if pending is None or elapsed is None:
            return []
        blocked = _mask(s.get("sig_blk")) or 0
        switches = _switches(s)
        # A process that ran takes an unblocked signal at once: one still
        # pending after it ran is the same only if blocked all along.
        ran = switches is None or switches != self.switches
        same = self.held & pending & (self.blocked & blocked if ran else pending)
        self.blocked, self.switches = blocked, switches
        if not same:
            self.streak.restart()  # a new streak, or another signal than the one held
        self.held = same or pending
        if not self.streak.update(True, elapsed):
            return []
        detail = {
            "sig_pnd": s["sig_pnd"],
            "signals": [n for n in range(1, self.held.bit_length() + 1) if self.held & _bit(n)],
            "consecutive": self.streak.count,
            "seconds": self.streak.lasted(elapsed),
        }
        return [("signals_pending", None, detail)]


class _RssGrowth:
    """Growth against a baseline taken once the program has loaded; an exec starts over."""

    def __init__(self, t: Thresholds) -> None:
        self.t = t
        self.comm: str | None = None  # the program running, as comm names it
        self._start(0.0, 0.0)  # a new process has waited for nothing yet

    def _start(self, elapsed: float, waited: float | None) -> None:
        self.started = elapsed  # when the current program started
        self.waited = waited  # its sched_wait_s then
        self.baseline: int | None = None
        self.seen = 0  # snapshots from the baseline, inclusive
        self.episode = _Streak(1)

    def _age(self, elapsed: float, waited: float | None) -> float:
        """The program's own time: since its start, less its waits for a CPU (when known)."""
        if waited is None or self.waited is None:
            return elapsed - self.started
        return elapsed - self.started - max(0.0, waited - self.waited)

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        rss, elapsed, comm = _count(s.get("vm_rss_kb")), _real(s.get("elapsed_s")), s.get("comm")
        if comm != self.comm and isinstance(comm, str) and elapsed is not None:
            if self.comm is not None:  # exec'd another program: its own baseline
                self._start(elapsed, _real(s.get("sched_wait_s")))
            self.comm = comm
        if self.baseline is None:
            if elapsed is None or not rss:
                return []
            if self._age(elapsed, _real(s.get("sched_wait_s"))) < self.t.rss_baseline_after_s:
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
    """One uninterruptible sleep that lasts: a process that woke in between slept anew."""

    def __init__(self, t: Thresholds) -> None:
        self.streak = _Streak(t.d_state_snapshots, t.streak_spacing_s)
        self.switches: tuple[int, int] | None = None  # at the last snapshot that had them

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        state, wchan = s.get("state"), s.get("wchan")
        if not isinstance(state, str):
            return []
        if state != "disk-sleep" or (isinstance(wchan, str) and wchan in BENIGN_WCHANS):
            self.streak.restart()  # known without a time
            return []
        elapsed = _real(s.get("elapsed_s"))
        if elapsed is None:
            return []
        switches = _switches(s)
        if switches is not None:
            if self.streak.count and self.switches is not None and switches != self.switches:
                self.streak.restart()  # it ran since the last snapshot: not the same sleep
            self.switches = switches
        if not self.streak.update(True, elapsed):
            return []
        detail = {
            "wchan": wchan if isinstance(wchan, str) else None,
            "consecutive": self.streak.count,
            "seconds": self.streak.lasted(elapsed),
        }
        return [("d_state_sustained", None, detail)]


class _HighCpu:
    """cpu_percent averaged over windows of some seconds, each reading weighted by its time.

    A reading covers the time since the previous snapshot; one that follows
    a snapshot without a usable elapsed_s cannot be weighted and is skipped.
    """

    def __init__(self, t: Thresholds) -> None:
        self.percent = t.high_cpu_percent
        self.window = t.high_cpu_window_s
        self.streak = _Streak(t.high_cpu_snapshots)  # of windows
        self.last: float | None = None  # elapsed_s of the previous snapshot
        self.busy = self.covered = 0.0  # percent x seconds, and seconds, of the open window
        self.high_busy = self.high_covered = 0.0  # the same over the streak's windows

    def feed(self, s: Mapping[str, Any]) -> list[Finding]:
        elapsed = _real(s.get("elapsed_s"))
        last, self.last = self.last, elapsed
        cpu = _real(s.get("cpu_percent"))
        if cpu is None or elapsed is None or last is None or elapsed <= last:
            return []
        self.busy += cpu * (elapsed - last)
        self.covered += elapsed - last
        if round(self.covered, 6) < self.window:  # elapsed_s is in microseconds
            return []
        busy, covered = self.busy, self.covered
        self.busy = self.covered = 0.0
        high = busy >= self.percent * covered
        if not self.streak.count:
            self.high_busy = self.high_covered = 0.0
        if high:
            self.high_busy += busy
            self.high_covered += covered
        if not self.streak.update(high):
            return []
        detail = {
            "cpu_percent": round(self.high_busy / self.high_covered, 1),
            "seconds": round(self.high_covered, 3),
            "threshold": self.percent,
        }
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

    def __init__(
        self, thresholds: Thresholds = DEFAULT_THRESHOLDS, command_line: str | None = None
    ) -> None:
        self.thresholds = thresholds
        self._detectors = [cls(thresholds) for cls in _DETECTORS]
        # The command's recorded command line: an anomaly of the command names it.
        self.command_line = command_line

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
        for _kind, pid, detail in findings:
            if pid is None:  # the command's own: named by its comm now and its command line
                detail["comm"] = _text(snapshot.get("comm"))
                detail["cmdline"] = self.command_line
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
    snapshots: Iterable[Mapping[str, Any]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    command_line: str | None = None,
) -> list[Anomaly]:
    """Run a fresh Detector over a whole series; equals feeding them one by one."""
    detector = Detector(thresholds, command_line)
    return [anomaly for snapshot in snapshots for anomaly in detector.feed(snapshot)]
