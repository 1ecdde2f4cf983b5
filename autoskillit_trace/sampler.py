"""Process-tree snapshots read straight from /proc (the tree itself: ``proctree``).

The tree is every descendant of the wrapper (the command, what it spawns, and
orphans re-parented to the wrapper).  Each /proc file is read once per process
per snapshot, with raw ``os.read`` and byte parsing, because this runs every
interval for the whole life of the command.  A process that vanishes while it
is read is simply absent; a value that cannot be read is ``None``, never a
made-up 0 or -1.
"""

from __future__ import annotations

import os
import resource

from autoskillit_trace.ctx import suppress
from autoskillit_trace.proctree import CLK_TCK, ProcStat, TreeFinder, why_unreadable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HEX = b"0123456789abcdef"
# What parse_status returns; all of them None when the status cannot be read.
_STATUS_FIELDS = (
    "sig_pnd", "sig_blk", "sig_cgt", "ctx_switches_voluntary", "ctx_switches_involuntary",
)  # fmt: skip
# The command's own snapshot fields, in the order the trace writes them.
_CHILD_KEYS = (
    "state", "vm_rss_kb", "threads", "fd_count", "fd_soft_limit", "ctx_switches_voluntary",
    "ctx_switches_involuntary", "sig_pnd", "sig_blk", "sig_cgt", "oom_score", "wchan", "comm",
    "cpu_percent", "sched_wait_s",
)  # fmt: skip
# The lines parse_status reads, each ``Name:`` and one word, one after the other.
_SIGNAL_LINES = [b"SigPnd:", b"ShdPnd:", b"SigBlk:", b"SigIgn:", b"SigCgt:"]
_SWITCH_LINES = [b"voluntary_ctxt_switches:", b"nonvoluntary_ctxt_switches:"]


def _values(data: bytes, names: list[bytes]) -> list[bytes] | None:
    """The word of each of the lines ``names``: each line its name and one word, the
    lines one after the other from the first named ``names[0]`` (not the first line
    of ``data``).  None when laid out otherwise.

    Splits and counts in C, without a step of Python per line: this runs
    after every sleep, when each step of Python costs most (cold caches).
    """
    at = data.find(b"\n" + names[0])
    if at < 0:
        return None
    lines = data[at + 1 :].split(b"\n", len(names))[: len(names)]
    words = b" ".join(lines).split()
    if words[::2] != names or list(map(len, map(bytes.split, lines))) != [2] * len(names):
        return None
    return words[1::2]


def parse_status(data: bytes) -> dict[str, Any]:
    """The signal masks and context switches of /proc/PID/status.

    (State, RSS and threads come from the stat line, like the tree's: one
    source, so the tree's RSS is never below the command's.)  ``sig_pnd`` is
    the thread's and the process's pending sets together (SigPnd | ShdPnd):
    a signal sent to the process with kill() waits in ShdPnd.

    The kernel writes SigPnd, ShdPnd, SigBlk, SigIgn and SigCgt on
    consecutive lines, and the two switch counts one after the other; each
    name and each line's one word is checked, so a status laid out otherwise
    reads as null, never as another field.
    """
    signals = _values(data, _SIGNAL_LINES)
    if signals is not None:
        pending, shared = signals[0], signals[1]
        if len(pending) == 16 and not pending.strip(_HEX) and not shared.strip(b"0"):
            sig_pnd: str | None = pending.decode()  # usually nothing shared pends: no arithmetic
        else:
            try:
                sig_pnd = f"{int(pending, 16) | int(shared, 16):016x}"
            except ValueError:
                sig_pnd = None
        sig_blk: str | None = signals[2].decode("ascii", "replace")
        sig_cgt: str | None = signals[4].decode("ascii", "replace")
    else:
        sig_pnd = sig_blk = sig_cgt = None
    switches = _values(data, _SWITCH_LINES)
    voluntary: int | None = None
    involuntary: int | None = None
    if switches is not None:
        with suppress(ValueError):  # not a number: null
            voluntary, involuntary = int(switches[0]), int(switches[1])
    return {
        "sig_pnd": sig_pnd,
        "sig_blk": sig_blk,
        "sig_cgt": sig_cgt,
        "ctx_switches_voluntary": voluntary,
        "ctx_switches_involuntary": involuntary,
    }


def parse_run_delay(data: bytes | None) -> float | None:
    """Seconds spent waiting on a run queue, from /proc/PID/schedstat (ns): None if unknown.

    The file exists only with the kernel's schedstats (CONFIG_SCHED_INFO).
    """
    try:
        return round(int(data.split()[1]) / 1e9, 6) if data else None
    except (IndexError, ValueError):
        return None


class Sampler:
    """Takes snapshots of the command (``child``) and of the wrapper's whole tree.

    Keeps only the last readings of live processes: memory does not grow
    with the number of snapshots.  ``unreadable`` says why the command's /proc
    files could not be read (hidden /proc, a setuid command), once noticed.
    """

    def __init__(self, child: int, finder: TreeFinder | None = None) -> None:
        self.child = child
        self._finder = finder or TreeFinder(os.getpid())
        self._prev: dict[int, ProcStat] = {}  # the last snapshot's readings, for CPU deltas
        self._prev_mono: float | None = None
        self.unreadable: str | None = None
        # The last snapshot's readings of every process of the tree (per-process
        # accounting reads them; nothing older is kept).
        self.members: dict[int, ProcStat] = {}

    def sample(self, mono: float) -> dict[str, Any]:
        """The snapshot fields (without ts, seq, event, pid, elapsed_s)."""
        members = self._finder.members()
        files = self._finder.files
        first = self._prev_mono is None
        wall = 0.0 if self._prev_mono is None else mono - self._prev_mono
        self._prev_mono = mono
        tree_rss = tree_threads = tree_fds = 0
        fds_known = False
        tree_ticks = 0
        zombies: list[int] = []
        child_fds: int | None = None
        child_cpu: float | None = None
        for pid, stat in members.items():
            tree_rss += stat.rss_kb
            tree_threads += stat.threads
            fds = files.fd_count(pid)
            if fds is not None:
                tree_fds += fds
                fds_known = True
            if stat.state == "zombie":
                zombies.append(pid)
            prev = self._prev.get(pid)
            if prev is not None and prev.start_ticks == stat.start_ticks:
                delta = stat.ticks - prev.ticks
            else:  # first seen, or a reused pid: all of its time so far
                delta = stat.ticks
            tree_ticks += delta
            if pid == self.child:
                child_fds = fds
                if not first and prev is not None and wall > 0:
                    child_cpu = round(100.0 * delta / CLK_TCK / wall, 1)
        child_stat = members.get(self.child)
        if child_stat is None and self.unreadable is None:
            # Not yet reaped, so its /proc entry exists unless we may not see it.
            self.unreadable = why_unreadable(f"/proc/{self.child}/stat")
        fields = self._child_fields(child_stat)
        self.members = self._prev = members
        fields["fd_count"] = child_fds
        fields["cpu_percent"] = child_cpu
        tree_cpu = round(100.0 * tree_ticks / CLK_TCK / wall, 1) if not first and wall > 0 else None
        zombies.sort()
        fields.update(
            tree_procs=len(members),
            tree_rss_kb=tree_rss,
            tree_threads=tree_threads,
            tree_fd_count=tree_fds if fds_known else None,
            tree_cpu_percent=tree_cpu,
            zombie_pids=zombies,
            # Each zombie's start: a pid reused by another zombie is another process.
            zombie_start_ticks=[members[pid].start_ticks for pid in zombies] if zombies else [],
        )
        if zombies:
            fields.update(zombie_fields(members, zombies, self._finder.root))
        return fields

    def _child_fields(self, stat: ProcStat | None) -> dict[str, Any]:
        """The command's own fields, in the trace's order; None for what could not be read."""
        if stat is None:  # gone, or its /proc files are hidden from us
            return dict.fromkeys(_CHILD_KEYS)
        pid = self.child
        files = self._finder.files
        status = files.read(pid, "status")
        fields = parse_status(status) if status else dict.fromkeys(_STATUS_FIELDS)
        oom = files.read(pid, "oom_score")
        try:
            oom_score = int(oom) if oom else None  # int() takes the trailing newline
        except ValueError:
            oom_score = None
        try:
            soft_limit = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
        except (OSError, ValueError) as exc:
            soft_limit = None
            if self.unreadable is None and isinstance(exc, PermissionError):
                self.unreadable = f"cannot read the limits of process {pid}: {exc.strerror}"
        # How long it has waited for a CPU: its own time is the wall time minus that.
        sched_wait_s = parse_run_delay(files.read(pid, "schedstat"))
        # A running task has no wait channel (the kernel shows "0"): not read then.
        wchan = files.read(pid, "wchan") if stat.state != "running" else None
        wchan = wchan.strip() if wchan else None
        return {
            "state": stat.state,
            "vm_rss_kb": stat.rss_kb,
            "threads": stat.threads,
            "fd_count": None,
            "fd_soft_limit": None if soft_limit == resource.RLIM_INFINITY else soft_limit,
            "ctx_switches_voluntary": fields["ctx_switches_voluntary"],
            "ctx_switches_involuntary": fields["ctx_switches_involuntary"],
            "sig_pnd": fields["sig_pnd"],
            "sig_blk": fields["sig_blk"],
            "sig_cgt": fields["sig_cgt"],
            "oom_score": oom_score,
            # "0" is what the kernel shows for a hidden symbol too.
            "wchan": wchan.decode("ascii", "replace") if wchan and wchan != b"0" else None,
            "comm": stat.comm,
            "cpu_percent": None,
            "sched_wait_s": sched_wait_s,
        }


def zombie_fields(members: dict[int, ProcStat], zombies: list[int], root: int) -> dict[str, Any]:
    """Who each zombie is and which parent fails to reap it (lists parallel to zombie_pids).

    Only in snapshots with zombies: anomalies name the process and its parent,
    and crash recovery finds the same in the trace.  A parent outside the
    members is the wrapper (an orphan re-parented to it).
    """
    ppids = [members[pid].ppid for pid in zombies]
    parents = [members.get(ppid) for ppid in ppids]
    return {
        "zombie_comms": [members[pid].comm for pid in zombies],
        "zombie_ppids": ppids,
        "zombie_parent_comms": [
            parent.comm if parent is not None else ("autoskillit-trace" if ppid == root else None)
            for parent, ppid in zip(parents, ppids, strict=True)
        ],
    }
