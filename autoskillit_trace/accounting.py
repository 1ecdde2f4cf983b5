"""Who used it: one line per process of the tree, from the snapshots' readings.

Fed the stat readings of every snapshot (``update``), it keeps a record only
for the processes alive now and returns the lines of those that left the
tree since the last one; ``finish`` returns the rest.  Memory stays flat
however many processes a session sees: a process that left is one line
written and five figures in ``Top``, nothing else.  A pid is a process only
with its start time: a pid reused by a new process starts a new line.

The command line is read once per program (``cmdline_of``, at the first
sighting and again only when comm changes, or once more when it was its
parent's: an exec after the first sighting would otherwise leave the
parent's command line on the child).  Pure apart
from that callable, so it is tested on data.

Tool calls: the processes first seen while exactly one call is open belong
to it (``tool_use_id``); with several open, to all of them
(``tool_use_ids``, ``shared`` true).
"""

from __future__ import annotations

from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from autoskillit_trace.proctree import ProcStat

CMDLINE_LIMIT = 1000  # characters of a command line kept, cut with "…"
TOP = 5  # processes kept by peak RSS and by CPU seconds each


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, its end marked with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Alive(Record):
    """What is known of one live process: its peaks so far and where it was first seen."""

    __slots__ = (
        "calls", "cmdline", "comm", "first", "last", "peak_rss", "peak_threads", "pid", "ppid",
        "recheck", "seen", "start", "ticks",
    )  # fmt: skip

    def __init__(self, stat: ProcStat, elapsed: float, cmdline: str | None, calls: tuple[str, ...]):
        self.pid = stat.pid
        self.start = stat.start_ticks
        self.ppid = stat.ppid
        self.comm = stat.comm
        self.cmdline = cmdline
        self.first = elapsed
        self.last = elapsed  # kept up for the command only (the others': Accounting.latest)
        self.peak_rss = stat.rss_kb
        self.peak_threads = stat.threads
        self.ticks = stat.ticks
        self.calls = calls
        self.recheck = False  # read its command line again at the next sighting
        self.seen = stat  # the last reading folded in


class Accounting:
    """Per-process peaks over a session; ``update`` each snapshot, ``finish`` at the end.

    ``root`` is the command: its line waits for ``finish``, which knows how
    it exited.  ``cmdline_of(pid)`` reads a process's command line (already
    redacted), None when it cannot; ``root_cmdline`` is the command's.
    """

    def __init__(
        self,
        root: int | None,
        cmdline_of: Callable[[int], str | None],
        clk_tck: int = 100,
        root_cmdline: str | None = None,
    ) -> None:
        self.root = root
        self.cmdline_of = cmdline_of
        self.clk_tck = clk_tck
        self.root_cmdline = root_cmdline
        # The processes of the last snapshot (and the command until ``finish``): a
        # process's last sighting is the last snapshot before it was missing.
        self.alive: dict[int, _Alive] = {}
        self.latest = 0.0  # elapsed seconds of the last snapshot
        self.count = 0  # distinct processes seen
        self.started = 0  # processes first seen by the last update
        self.top = Top()

    def update(
        self, members: Mapping[int, ProcStat], elapsed: float, calls: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Fold one snapshot's readings in; the lines of the processes that left the tree.

        ``calls``: the tool calls open now, owners of the processes first seen here.
        """
        alive = self.alive
        gone: list[dict[str, Any]] = []
        started = 0
        before, self.latest = self.latest, elapsed  # the last sighting of those that left
        for pid, stat in members.items():
            known = alive.get(pid)
            if known is not None:
                if known.seen is stat and not known.recheck:
                    continue  # the same reading as before (an unchanged stat line)
                if known.start != stat.start_ticks:  # the pid is another process's now
                    gone.append(self._line(alive.pop(pid), before))
                    known = None
            if known is None:
                known = alive[pid] = _Alive(stat, elapsed, self._cmdline(pid), calls)
                parent = alive.get(stat.ppid)
                # A fork that has not exec'd yet shows its parent's command line.
                known.recheck = parent is not None and parent.cmdline == known.cmdline
                started += 1
                continue
            known.seen = stat
            known.ppid = stat.ppid
            if stat.comm != known.comm or known.recheck:  # an exec since: another command line
                known.comm = stat.comm
                known.recheck = False
                known.cmdline = self._cmdline(pid) or known.cmdline
            if stat.rss_kb > known.peak_rss:
                known.peak_rss = stat.rss_kb
            if stat.threads > known.peak_threads:
                known.peak_threads = stat.threads
            known.ticks = stat.ticks
        root = alive.get(self.root) if self.root is not None else None
        if root is not None and self.root in members:
            root.last = elapsed  # kept after it leaves the tree: its own last sighting
        if len(alive) > len(members):  # some left (every member is in alive by now)
            for pid in [pid for pid in alive if pid not in members and pid != self.root]:
                gone.append(self._line(alive.pop(pid), before))
        self.count += started
        self.started = started
        for line in gone:
            self.top.feed(line)
        return gone

    def finish(self, exit_status: int | None = None) -> list[dict[str, Any]]:
        """The lines of every process still known, oldest first; the command's with
        ``exit_status``."""
        lines = []
        for known in sorted(self.alive.values(), key=lambda a: (a.first, a.pid)):
            if known.pid == self.root:
                lines.append(self._line(known, known.last, exit_status))
            else:  # in the last snapshot, by the invariant of ``update``
                lines.append(self._line(known, self.latest))
        self.alive = {}
        for line in lines:
            self.top.feed(line)
        return lines

    def cmdline(self, pid: int) -> str | None:
        """The command line of the live process ``pid`` as first read (a zombie's is empty now)."""
        known = self.alive.get(pid)
        return known.cmdline if known is not None else None

    def summary_fields(self) -> dict[str, Any]:
        """``process_count`` and ``top_processes`` for summary.json."""
        return {"process_count": self.count, "top_processes": self.top.processes()}

    def _cmdline(self, pid: int) -> str | None:
        if pid == self.root and self.root_cmdline is not None:
            return self.root_cmdline  # as started: a first sighting may come before the exec
        text = self.cmdline_of(pid)
        return cut(text, CMDLINE_LIMIT) if text is not None else None

    def _line(self, known: _Alive, last: float, exit_status: int | None = None) -> dict[str, Any]:
        """The process's line; ``last``: when it was last seen."""
        calls = known.calls
        return {
            "pid": known.pid,
            "ppid": known.ppid,
            "comm": known.comm,
            "cmdline": known.cmdline,
            "first_seen_s": round(known.first, 3),
            "last_seen_s": round(last, 3),
            "peak_rss_kb": known.peak_rss,
            "cpu_seconds": round(known.ticks / self.clk_tck, 2),
            "peak_threads": known.peak_threads,
            "exit_status": exit_status,
            "tool_use_id": calls[0] if len(calls) == 1 else None,
            "tool_use_ids": list(calls),
            "shared": len(calls) > 1,
        }


# The fields of a process in summary.json's top_processes, in their order.
TOP_FIELDS = (
    "pid", "comm", "cmdline", "peak_rss_kb", "cpu_seconds", "first_seen_s", "last_seen_s",
)  # fmt: skip


def _number(line: Mapping[str, Any], key: str) -> float:
    value = line.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else -1.0


class Top:
    """The five processes with the largest peak RSS and the five with the most CPU
    time, over lines fed one by one: constant memory.  A figure of 0 ranks nothing
    (a process that never ran on a CPU is no top consumer of it)."""

    def __init__(self, size: int = TOP) -> None:
        self.size = size
        self.by_rss: list[dict[str, Any]] = []
        self.by_cpu: list[dict[str, Any]] = []

    def feed(self, line: Mapping[str, Any]) -> None:
        self._keep(self.by_rss, line, "peak_rss_kb")
        self._keep(self.by_cpu, line, "cpu_seconds")

    def _keep(self, kept: list[dict[str, Any]], line: Mapping[str, Any], key: str) -> None:
        value = _number(line, key)
        if value <= 0 or (len(kept) >= self.size and value <= _number(kept[-1], key)):
            return
        kept.append({name: line.get(name) for name in TOP_FIELDS})
        kept.sort(key=lambda p: -_number(p, key))
        del kept[self.size :]

    def processes(self) -> list[dict[str, Any]]:
        """The top by peak RSS, then those of the top by CPU not already listed."""
        out = list(self.by_rss)
        for process in self.by_cpu:
            if process not in out:
                out.append(process)
        return out


def summarize(lines: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """``process_count`` and ``top_processes`` from processes.jsonl's lines (cut ones skipped):
    what a crashed session wrote is what it has."""
    top = Top()
    count = 0
    for line in lines:
        if isinstance(line, dict) and isinstance(line.get("pid"), int):
            count += 1
            top.feed(line)
    return {"process_count": count, "top_processes": top.processes()}
