"""The process tree in /proc: its files held open, its members found.

One owner for what the supervisor and the sampler both need: the tree
finder (every descendant of the wrapper, found as cheaply as the kernel
allows), the held /proc files it reads through, and the stat line parser.
Each /proc file is read once per process per look, with raw ``os.read`` and
byte parsing.  A process that vanishes while it is read is simply absent.
"""

from __future__ import annotations

import os
import resource

from autoskillit_trace.ctx import suppress
from autoskillit_trace.records import Record

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")

# /proc state letters, named as psutil names them.
STATES = {
    b"R": "running",
    b"S": "sleeping",
    b"D": "disk-sleep",
    b"Z": "zombie",
    b"T": "stopped",
    b"t": "tracing-stop",
    b"X": "dead",
    b"x": "dead",
    b"I": "idle",
    b"P": "parked",
    b"W": "waking",
    b"K": "wake-kill",
}


def read_proc(path: str) -> bytes | None:
    """The bytes of a small /proc file, or None when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_argv(pid: int) -> list[bytes] | None:
    """The arguments of ``pid`` (its cmdline), or None: a zombie, a kernel thread, or gone."""
    raw = read_proc(f"/proc/{pid}/cmdline")
    return raw.rstrip(b"\0").split(b"\0") if raw else None


class ProcStat(Record):
    """The fields of /proc/PID/stat that a snapshot uses."""

    __slots__ = ("comm", "pid", "ppid", "rss_kb", "start_ticks", "state", "threads", "ticks")

    def __init__(
        self,
        pid: int,
        comm: str,
        state: str | None,
        ppid: int,
        ticks: int,  # utime + stime, in clock ticks
        threads: int,
        rss_kb: int,
        start_ticks: int,  # start time after boot, in clock ticks; tells reused pids apart
    ) -> None:
        self.pid = pid
        self.comm = comm
        self.state = state
        self.ppid = ppid
        self.ticks = ticks
        self.threads = threads
        self.rss_kb = rss_kb
        self.start_ticks = start_ticks


def parse_stat(pid: int, data: bytes) -> ProcStat | None:
    """Parse a /proc/PID/stat line; ``comm`` may itself hold spaces and parentheses.

    Read for every member at every snapshot: only the fields up to rss are
    cut out (22 of ~50), and the record is built with positional arguments
    (callgrind: 29.6K -> 20.2K instructions a line).
    """
    open_paren = data.find(b"(")
    close_paren = data.rfind(b")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    fields = data[close_paren + 2 :].split(None, 22)  # state ... rss, then the rest uncut
    try:
        return ProcStat(
            pid,
            data[open_paren + 1 : close_paren].decode("utf-8", "replace"),  # comm
            STATES.get(fields[0]),  # state
            int(fields[1]),  # ppid
            int(fields[11]) + int(fields[12]),  # utime + stime
            int(fields[17]),  # threads
            int(fields[21]) * PAGE_KB,  # rss
            int(fields[19]),  # start time
        )
    except (IndexError, ValueError):
        return None


def read_stat(pid: int) -> ProcStat | None:
    data = read_proc(f"/proc/{pid}/stat")
    return parse_stat(pid, data) if data else None


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot): tells a reused pid from its first owner."""
    stat = read_stat(pid)
    return stat.start_ticks if stat is not None else None


def read_boot_id() -> str | None:
    """This boot's id: a session started under another one died with the machine."""
    return _read_small("/proc/sys/kernel/random/boot_id")


def _fd_count_by_size() -> bool:
    """Linux 6.2+ reports the number of open fds as the size of /proc/PID/fd."""
    try:
        return os.stat("/proc/self/fd").st_size > 0
    except OSError:
        return False


def _has_children_files() -> bool:
    pid = os.getpid()
    return os.path.exists(f"/proc/{pid}/task/{pid}/children")


_FD_BY_SIZE = _fd_count_by_size()
_CHILDREN_FILES = _has_children_files()


def why_unreadable(path: str) -> str | None:
    """Why ``path`` cannot be read, or None when it can."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None


def _read_small(path: str) -> str | None:
    data = read_proc(path)
    return data.decode("ascii", "replace").strip() if data else None


_READ_SIZE = 65536
_CHILDREN = "children"  # the main thread's children file


def _proc_path(pid: int, name: str) -> str:
    if name == _CHILDREN:
        return f"/proc/{pid}/task/{pid}/children"
    return f"/proc/{pid}/{name}"


def default_budget() -> int:
    """Descriptors the sampler may hold: a quarter of the soft limit, at most 1024."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(0, min(1024, soft // 4))


class ProcFiles:
    """The /proc files of the tree's processes, kept open and re-read with ``pread``.

    Opening a /proc path walks it every time, which costs about as much as the
    read itself; an open file re-read from offset 0 gives fresh contents.  An
    open file stays bound to the process it was opened for: once that process
    is reaped its ``stat`` read fails (ESRCH), and then all of its files are
    reopened by path, so a reused pid never reads another process's files.
    (A dead process's children file reads empty rather than failing, which is
    why ``stat`` must be the first file read of a process in a snapshot.)
    At most ``budget`` descriptors are held; past it, files are read by path.
    """

    def __init__(self, budget: int | None = None) -> None:
        self.budget = default_budget() if budget is None else budget
        self._open: dict[int, dict[str, int]] = {}  # pid -> name -> descriptor
        self.held = 0  # descriptors open now

    def stat(self, pid: int) -> bytes | None:
        """``/proc/PID/stat``: read first, it tells whether the held files are still its own."""
        files = self._open.get(pid)  # held with its stat file (or trusted)
        fd = files.get("stat") if files is not None else None
        if fd is not None:
            try:
                return os.pread(fd, _READ_SIZE, 0)
            except OSError:
                self.forget(pid)  # that process is gone; the pid may be another's now
        path = _proc_path(pid, "stat")
        if self.held >= self.budget:
            return read_proc(path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        self._open.setdefault(pid, {})["stat"] = fd
        self.held += 1
        try:
            return os.read(fd, _READ_SIZE)
        except OSError:
            return None

    def trust(self, pid: int) -> None:
        """Hold files of ``pid`` without its stat check: a process that outlives the
        walk (the root; in a run, the wrapper itself)."""
        self._open.setdefault(pid, {})

    def threads(self, pid: int) -> int:
        """Threads of ``pid``, 0 when unknown: its task folder's link count is 2 + threads,
        which is cheaper than having the kernel format a stat line to parse."""
        fd = self._descriptor(pid, "task", os.O_DIRECTORY)
        try:
            st = os.stat(_proc_path(pid, "task")) if fd is None else os.fstat(fd)
        except OSError:
            return 0
        return max(0, st.st_nlink - 2)

    def read(self, pid: int, name: str) -> bytes | None:
        """Another file of ``pid`` (``status``, ``children``...), after its ``stat``."""
        files = self._open.get(pid)
        fd = files.get(name) if files is not None else None  # held: no call to _descriptor
        if fd is None:
            fd = self._descriptor(pid, name, 0)
        try:
            return read_proc(_proc_path(pid, name)) if fd is None else os.pread(fd, _READ_SIZE, 0)
        except OSError:
            return None

    def fd_count(self, pid: int) -> int | None:
        """Open descriptors of ``pid``, None when not permitted or gone."""
        files = self._open.get(pid)
        fd = files.get("fd") if files is not None else None  # held only where sizes count
        try:
            if fd is not None:
                return os.fstat(fd).st_size
            if not _FD_BY_SIZE:
                return len(os.listdir(_proc_path(pid, "fd")))
            fd = self._descriptor(pid, "fd", os.O_DIRECTORY)
            return os.stat(_proc_path(pid, "fd")).st_size if fd is None else os.fstat(fd).st_size
        except OSError:
            return None

    def keep_only(self, pids: dict[int, ProcStat], root: int) -> None:
        """Close the files of processes no longer in the tree (``root`` and ``pids``)."""
        for pid in list(self._open):  # a loop, not a comprehension: no extra frame (3.11)
            if pid not in pids and pid != root:
                self.forget(pid)

    def forget(self, pid: int) -> None:
        for fd in self._open.pop(pid, {}).values():
            self.held -= 1
            with suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        for pid in list(self._open):
            self.forget(pid)

    def _descriptor(self, pid: int, name: str, flags: int) -> int | None:
        """The held descriptor of a file of ``pid``; None: read it by path.

        Opened now if the process's stat is held (or it is trusted) and the
        budget allows.
        """
        files = self._open.get(pid)
        if files is None:
            return None
        fd = files.get(name)
        if fd is not None or self.held >= self.budget:
            return fd
        try:
            fd = os.open(_proc_path(pid, name), os.O_RDONLY | os.O_CLOEXEC | flags)
        except OSError:
            return None
        files[name] = fd
        self.held += 1
        return fd


class TreeFinder:
    """Finds every descendant of a process, as cheaply as the kernel allows.

    With /proc/PID/task/TID/children it walks down from the root, holding the
    files of the members open in ``files`` for the next walk; while no process
    has been created since the last walk (the last pid in /proc/loadavg is
    unchanged), the tree can only have lost members, so it re-reads their
    stat lines and no children file at all.  Without children files
    (kernels built without CONFIG_PROC_CHILDREN) it lists /proc and reads the
    stat line only of the current members and of pids it has not seen before
    (and lists nothing while /proc/loadavg says no process was created):
    a process that was outside the tree stays outside (a parent never changes
    but by re-parenting, which only moves processes out of a tree or up to the
    wrapper, itself in it).  A pid reused within one interval by a new
    descendant would be missed; that needs the whole pid space to wrap.

    A stat line read unchanged since the last look gives back the record it
    gave then, unparsed: most of a tree sleeps between two snapshots, and
    parsing is most of what a sleeping member costs.  Readers take the
    records as they are and never change them.
    """

    def __init__(
        self,
        root: int,
        use_children_files: bool = _CHILDREN_FILES,
        existing: set[int] | None = None,
    ) -> None:
        self.root = root
        self._use_children = use_children_files
        # Every pid of the last listing.  Seeded with the pids that existed
        # before the command was spawned (none can be its descendant), the
        # first scan reads only the stat lines of processes born since.
        self._seen: set[int] = set() if existing is None else existing
        self._members: set[int] = set()
        self._last_pid: int | None = None  # the last pid allocated, at the last listing
        self._loadavg: int | None = None  # /proc/loadavg, held like the tree's files
        # The stat line and record of each member at the last look.
        self._lines: dict[int, tuple[bytes, ProcStat]] = {}
        self.files = ProcFiles()  # held open while children files find the tree

    @classmethod
    def before_spawn(cls, root: int) -> TreeFinder:
        """A finder made before the command starts; scanning, it skips every pid alive now."""
        return cls(root, existing=None if _CHILDREN_FILES else list_pids())

    def close(self) -> None:
        """Let go of the held /proc files (a later ``members`` opens them again)."""
        self.files.close()
        self._lines = {}
        if self._loadavg is not None:
            with suppress(OSError):
                os.close(self._loadavg)
            self._loadavg = None

    def members(self) -> dict[int, ProcStat]:
        """Stat lines of all descendants of the root (the root excluded)."""
        if not self._use_children:
            return self._scan()
        # Read before the walk: a process born during it changes the next reading.
        last_pid = self._read_last_pid()
        if last_pid is not None and last_pid == self._last_pid:
            return self._survivors()
        self._last_pid = last_pid
        files = self.files
        files.trust(self.root)
        found: dict[int, ProcStat] = {}
        frontier = [(self.root, files.threads(self.root))]  # (pid, threads)
        lines: dict[int, tuple[bytes, ProcStat]] = {}
        while frontier:
            parent, threads = frontier.pop()
            for child in self._children_of(parent, threads):
                if child in found or child == self.root:
                    continue
                stat = self._stat(child, lines)
                if stat is not None:
                    found[child] = stat
                    frontier.append((child, stat.threads))
        self._lines = lines
        files.keep_only(found, self.root)
        self._members = set(found)
        return found

    def _stat(self, pid: int, lines: dict[int, tuple[bytes, ProcStat]]) -> ProcStat | None:
        """The stat record of ``pid`` now, noted in this look's ``lines``: the last
        look's record when its line is unchanged."""
        data = self.files.stat(pid)
        if not data:
            return None
        last = self._lines.get(pid)
        if last is not None and last[0] == data:  # the pid and start time are in the line
            lines[pid] = last
            return last[1]
        stat = parse_stat(pid, data)
        if stat is not None:
            lines[pid] = (data, stat)
        return stat

    def _survivors(self) -> dict[int, ProcStat]:
        """The last walk's members that are still in the tree, when none can have joined.

        A member is gone when its stat cannot be read (reaped), and out of the
        tree when its parent is neither the root nor a member (re-parented to
        a reaper outside, as when the root is not a subreaper).
        """
        found: dict[int, ProcStat] = {}
        lines: dict[int, tuple[bytes, ProcStat]] = {}
        for pid in self._members:
            stat = self._stat(pid, lines)
            if stat is not None:
                found[pid] = stat
        self._lines = lines
        root = self.root
        dropped = True
        while dropped:  # dropping one may leave its children outside too
            dropped = False
            for pid, stat in list(found.items()):
                if stat.ppid != root and stat.ppid not in found:
                    del found[pid]
                    dropped = True
        if len(found) < len(self._members):  # else every held file is still a member's
            self.files.keep_only(found, root)
            self._members = set(found)
        return found

    def _read_last_pid(self) -> int | None:
        """The pid the kernel allocated last (the last field of /proc/loadavg), or None.

        Read through a held descriptor: one pread, no path walk.
        """
        try:
            if self._loadavg is None:
                self._loadavg = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC)
            return int(os.pread(self._loadavg, 256, 0).rsplit(None, 1)[-1])
        except (OSError, ValueError, IndexError):
            return None

    def _children_of(self, pid: int, threads: int) -> list[int]:
        """Children of every thread of ``pid``; a single-threaded one needs no task listing.

        Only the main thread's children file is read through ``files``: that
        file is checked by the stat read before it, another thread's is not.
        ``threads`` 0 means unknown.
        """
        data = self.files.read(pid, _CHILDREN)
        out = [int(x) for x in data.split()] if data else []
        if threads == 1:
            return out
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return out
        main = str(pid)
        for tid in tids:
            if tid != main:
                more = read_proc(f"/proc/{pid}/task/{tid}/children")
                if more:
                    out.extend(int(x) for x in more.split())
        return out

    def _scan(self) -> dict[int, ProcStat]:
        last_pid = self._read_last_pid()
        if last_pid is not None and last_pid == self._last_pid:
            # No process was created since the last listing: the tree can only
            # have lost members, so their stat lines are all there is to read.
            candidates = self._members
        else:
            current = list_pids()
            if not current:
                return {}
            candidates = (self._members & current) | (current - self._seen)
            self._seen = current
            self._last_pid = last_pid
        children: dict[int, list[ProcStat]] = {}
        for pid in candidates:
            stat = read_stat(pid)
            if stat is not None:
                children.setdefault(stat.ppid, []).append(stat)
        found: dict[int, ProcStat] = {}
        frontier = [self.root]
        while frontier:
            for stat in children.get(frontier.pop(), ()):
                if stat.pid != self.root and stat.pid not in found:
                    found[stat.pid] = stat
                    frontier.append(stat.pid)
        self._members = set(found)
        return found


def list_pids() -> set[int]:
    """The pids in /proc now (empty when /proc cannot be listed)."""
    try:
        return set(map(int, filter(str.isdigit, os.listdir("/proc"))))
    except OSError:
        return set()
