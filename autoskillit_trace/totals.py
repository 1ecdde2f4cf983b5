"""The kernel's exact totals of the tree: what ``wait`` returns for every child reaped.

Snapshots see a process only if it lives across one; the kernel accounts for
every process when its parent reaps it, and hands the figures on up the tree:
a child's rusage from ``wait4`` includes everything it reaped in turn.  The
supervisor reaps with ``wait3`` and adds each child's rusage here: the
command's (which holds its whole waited-for tree, as GNU time's ``wait4``
does) and every orphan the wrapper, as a subreaper, reaped.

Why not ``getrusage(RUSAGE_CHILDREN)`` at the end?  It is the same sum, but
of every child the process has ever waited for, and it survives ``execve``:
a shell that ran a command and then ``exec``'d the wrapper hands that
command's CPU and memory to it.  Summing what the session itself reaped
counts exactly the command's tree and nothing else.  What no one reaped is
missing: a descendant still running when the wrapper ends, or one that was
re-parented to init (or to another subreaper) and reaped there.

The kernel counts, as a process's maximum RSS, what it held before its
``execve`` too, and the command starts as the wrapper (``posix_spawn``
shares its memory until the exec): ``max_process_rss_kb`` is never below
the wrapper's own peak at the spawn (its ``VmHWM``), ``max_process_rss_floor_kb``.  Above
that floor the figure is some process's true peak; at it, the true peak is
at most that much.  GNU time has the same floor, its own size (~2 MB).

Pure: ``add`` takes any object with the fields of ``resource.struct_rusage``.
"""

from __future__ import annotations

from autoskillit_trace.records import Record
from autoskillit_trace.schema import number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# (summary field, struct rusage field); max_process_rss_kb is a maximum, the rest are sums.
FIELDS = (
    ("cpu_user_seconds", "ru_utime"),
    ("cpu_system_seconds", "ru_stime"),
    ("max_process_rss_kb", "ru_maxrss"),  # kilobytes on Linux; the largest single process
    ("page_faults_major", "ru_majflt"),
    ("page_faults_minor", "ru_minflt"),
    ("fs_read_blocks", "ru_inblock"),  # 512-byte blocks read from storage
    ("fs_write_blocks", "ru_oublock"),
    ("ctx_switches_voluntary_total", "ru_nvcsw"),
    ("ctx_switches_involuntary_total", "ru_nivcsw"),
)
FLOOR = "max_process_rss_floor_kb"  # see the module's doc
NAMES = (*(name for name, _ in FIELDS[:3]), FLOOR, *(name for name, _ in FIELDS[3:]))
_MAXIMA = frozenset({"ru_maxrss"})


class Totals(Record):
    """The rusage of every child reaped so far: sums, and the largest maxrss."""

    __slots__ = ("floor_kb", "reaped", "values")

    def __init__(self) -> None:
        self.reaped = 0
        self.floor_kb: int | None = None  # the wrapper's peak RSS when it spawned the command
        self.values: dict[str, float] = {source: 0 for _, source in FIELDS}

    def add(self, usage: Any) -> None:
        """Fold in the rusage ``wait`` returned for one reaped child."""
        self.reaped += 1
        values = self.values
        for source in values:
            value = getattr(usage, source)
            if source in _MAXIMA:
                values[source] = max(values[source], value)
            else:
                values[source] += value

    def fields(self) -> dict[str, Any] | None:
        """The summary's fields; None before any child was reaped (nothing is known)."""
        if not self.reaped:
            return None
        found: dict[str, Any] = {}
        for name, source in FIELDS:
            value = self.values[source]
            found[name] = round(value, 6) if name.startswith("cpu_") else int(value)
        found[FLOOR] = self.floor_kb
        return found


def hiwater_kb(status: bytes) -> int | None:
    """``VmHWM`` of a /proc/PID/status: the peak RSS of the process's memory as it is now.

    Not ``getrusage(RUSAGE_SELF)``: that keeps what the process held before
    its own exec (the wrapper started by a large process holds that one's
    peak), which the command's figure does not include.
    """
    start = status.find(b"VmHWM:")
    if start < 0:
        return None
    end = status.find(b"\n", start)
    words = status[start + len(b"VmHWM:") : end if end >= 0 else None].split()
    try:
        return int(words[0]) if words else None
    except ValueError:
        return None


def summary_fields(totals: dict[str, Any] | None) -> dict[str, Any]:
    """Every total under its name, None where unknown (spawn failed, a crashed session)."""
    given = totals or {}
    return {name: given.get(name) for name in NAMES}


def sampled_peak(record: dict[str, Any]) -> float | None:
    """The larger of the command's and its whole tree's sampled peak RSS."""
    known = [
        value
        for value in map(number, (record.get("peak_rss_kb"), record.get("peak_tree_rss_kb")))
        if value is not None
    ]
    return max(known) if known else None


def missed_peak(record: dict[str, Any]) -> float | None:
    """The exact largest process's RSS when it is above every sampled peak, else None.

    A process that lived between two snapshots (or a command shorter than
    one interval) left no sampled peak; the kernel's figure still holds it.
    """
    exact = number(record.get("max_process_rss_kb"))
    sampled = sampled_peak(record)
    if exact is None or (sampled is not None and exact <= sampled) or at_floor(record):
        return None
    return exact


def at_floor(record: dict[str, Any]) -> bool:
    """Is the exact figure the wrapper's own size (the true peak at most that)?"""
    exact = number(record.get("max_process_rss_kb"))
    floor = number(record.get(FLOOR))
    return exact is not None and floor is not None and exact <= floor


def log_fields(summary: dict[str, Any]) -> dict[str, Any]:
    """Memory and CPU for the session's last log line, the exact peak first if snapshots missed it.

    The field names say which is which: ``max_process_rss_kb`` is the kernel's
    (one process), ``peak_tree_rss_kb`` the snapshots' (the tree's sum).
    """
    exact = {"max_process_rss_kb": summary.get("max_process_rss_kb")}
    sampled = {"peak_tree_rss_kb": summary.get("peak_tree_rss_kb")}
    memory = {**exact, **sampled} if missed_peak(summary) is not None else {**sampled, **exact}
    cpu = {name: summary.get(name) for name in ("cpu_user_seconds", "cpu_system_seconds")}
    return {name: value for name, value in {**memory, **cpu}.items() if value is not None}
