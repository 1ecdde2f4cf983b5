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

from autoskillit_trace.proctree import CLK_TCK, STATES, ProcStat, TreeFinder, why_unreadable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HEX = b"0123456789abcdef"
# The /proc/PID/status lines a snapshot uses, in the order parse_status unpacks them.
_STATUS_KEYS = (
    b"\nState:", b"\nVmRSS:", b"\nThreads:", b"\nvoluntary_ctxt_switches:",
    b"\nnonvoluntary_ctxt_switches:", b"\nSigPnd:", b"\nShdPnd:", b"\nSigBlk:", b"\nSigCgt:",
)  # fmt: skip
# What parse_status returns; all of them None when the status cannot be read.
_STATUS_FIELDS = (
    "state", "vm_rss_kb", "threads", "sig_pnd", "sig_blk", "sig_cgt",
    "ctx_switches_voluntary", "ctx_switches_involuntary",
)  # fmt: skip
# The command's own snapshot fields, in the order the trace writes them.
_CHILD_KEYS = (
    "state", "vm_rss_kb", "threads", "fd_count", "fd_soft_limit", "ctx_switches_voluntary",
    "ctx_switches_involuntary", "sig_pnd", "sig_blk", "sig_cgt", "oom_score", "wchan", "comm",
    "cpu_percent", "sched_wait_s",
)  # fmt: skip


def parse_status(data: bytes) -> dict[str, Any]:
    """The seed's fields from /proc/PID/status.

    ``sig_pnd`` is the thread's and the process's pending sets together
    (SigPnd | ShdPnd): a signal sent to the process with kill() waits in ShdPnd.
    Keys are found with ``bytes.find`` (each status has ~57 lines; we need 9).
    This runs at every snapshot right after a sleep, when every distinct
    function called costs a few microseconds of cold caches: one loop and
    no helpers (~15 us less than with them).
    """
    data = b"\n" + data
    find = data.find
    words: list[bytes | None] = []  # the first word of each key's value
    for key in _STATUS_KEYS:
        start = find(key)
        if start < 0:
            words.append(None)
            continue
        start += len(key)
        end = find(b"\n", start)
        value = data[start : end if end >= 0 else None].split(None, 1)
        words.append(value[0] if value else None)
    state, pending, shared, blocked, caught = words[0], words[5], words[6], words[7], words[8]
    numbers: list[int | None] = []  # VmRSS, Threads and the two switch counts
    for word in words[1:5]:
        try:
            numbers.append(int(word) if word else None)
        except ValueError:
            numbers.append(None)
    if pending is None or shared is None:
        sig_pnd = None
    elif len(pending) == 16 and not pending.strip(_HEX) and not shared.strip(b"0"):
        sig_pnd = pending.decode()  # the usual case: nothing shared pending, no arithmetic
    else:
        try:
            sig_pnd = f"{int(pending, 16) | int(shared, 16):016x}"
        except ValueError:
            sig_pnd = None
    return {
        "state": STATES.get(state[:1]) if state else None,
        "vm_rss_kb": numbers[0],
        "threads": numbers[1],
        "sig_pnd": sig_pnd,
        "sig_blk": blocked.decode("ascii", "replace") if blocked else None,
        "sig_cgt": caught.decode("ascii", "replace") if caught else None,
        "ctx_switches_voluntary": numbers[2],
        "ctx_switches_involuntary": numbers[3],
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

    Keeps only the previous CPU ticks of live processes: memory does not grow
    with the number of snapshots.  ``unreadable`` says why the command's /proc
    files could not be read (hidden /proc, a setuid command), once noticed.
    """

    def __init__(self, child: int, finder: TreeFinder | None = None) -> None:
        self.child = child
        self._finder = finder or TreeFinder(os.getpid())
        self._prev_ticks: dict[int, tuple[int, int]] = {}  # pid -> (start_ticks, ticks)
        self._prev_mono: float | None = None
        self.unreadable: str | None = None
        # The last snapshot's readings of every process of the tree, the command's RSS
        # as its own field has it (per-process accounting reads them; nothing is kept).
        self.members: dict[int, ProcStat] = {}

    def sample(self, mono: float) -> dict[str, Any]:
        """The snapshot fields (without ts, seq, event, pid, elapsed_s)."""
        members = self._finder.members()
        files = self._finder.files
        first = self._prev_mono is None
        wall = 0.0 if self._prev_mono is None else mono - self._prev_mono
        self._prev_mono = mono
        ticks_now: dict[int, tuple[int, int]] = {}
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
            prev = self._prev_ticks.get(pid)
            delta = stat.ticks - prev[1] if prev and prev[0] == stat.start_ticks else stat.ticks
            tree_ticks += delta
            ticks_now[pid] = (stat.start_ticks, stat.ticks)
            if pid == self.child:
                child_fds = fds
                if not first and prev is not None and wall > 0:
                    child_cpu = round(100.0 * delta / CLK_TCK / wall, 1)
        self._prev_ticks = ticks_now
        child_stat = members.get(self.child)
        if child_stat is None and self.unreadable is None:
            # Not yet reaped, so its /proc entry exists unless we may not see it.
            self.unreadable = why_unreadable(f"/proc/{self.child}/stat")
        fields = self._child_fields(child_stat)
        rss = fields["vm_rss_kb"]
        if child_stat is not None and rss is not None and rss != child_stat.rss_kb:
            # One source for the command's RSS and its share of the tree's: the tree's
            # is then never below the command's, though status and stat are read apart.
            tree_rss += rss - child_stat.rss_kb
            members[self.child] = child_stat.replace(rss_kb=rss)
        self.members = members
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
        wchan = files.read(pid, "wchan") if fields["state"] != "running" else None
        wchan = wchan.strip() if wchan else None
        return {
            "state": fields["state"],
            "vm_rss_kb": fields["vm_rss_kb"],
            "threads": fields["threads"],
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
