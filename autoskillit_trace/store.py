"""The log store: session folders, the global index, retention and crash recovery.

Layout (the seed's, exactly)::

    <root>/sessions.jsonl            one JSON line per finished session
    <root>/sessions/<dir_name>/      proc_trace.jsonl, summary.json, anomalies.jsonl
    <root>/.running/<dir_name>       an empty marker while the session is unfinished

Invariants:
- A running session holds an exclusive ``flock`` on its ``proc_trace.jsonl``
  from creation (the file is locked before it gets its name) until its
  summary is published.  The kernel drops the lock when the wrapper dies in
  any way (SIGKILL, OOM killer, reboot), so "lock free and no summary.json"
  means crashed, without guessing from pids.
- Publishing is pending summary -> index line -> summary.json, so a crash at
  any step is completed by recovery with exactly one index line.
- One index line per session, always: recovery appends a line only for a
  session that has none.  A summary.json lost or damaged after it was
  published (missing, empty, cut short, not JSON) is rebuilt from the
  session's index line and its trace, and the index is left as it is.
- Every writer of ``sessions.jsonl`` holds ``<root>/.sessions.lock``: appends
  are one ``write`` each, and a rewrite (retention) cannot drop a line that a
  concurrent session appends.
- summary.json is whole or absent (written under another name, then renamed).
- A session's marker in ``.running/`` is created (exclusively: it claims the
  name) before its folder and removed after its summary.json, so the
  recovery every ``run`` does looks at the few unfinished sessions, not at
  the whole store.  ``prune`` still looks at every folder.
- Folders are 0700 and files 0600 whatever the umask: they hold command lines.

Paths are plain ``str`` handled with ``os.path`` (importing ``pathlib`` costs
~6 ms per start of ``run``); functions and constructors also take ``os.PathLike``.
"""

from __future__ import annotations

import fcntl
import os
import time

from autoskillit_trace.ctx import suppress
from autoskillit_trace.jsonl import dumps_line, dumps_pretty, parse_line, write_all
from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from _typeshed import StrPath

INDEX = "sessions.jsonl"
SESSIONS = "sessions"
LOCK = ".sessions.lock"
TRACE = "proc_trace.jsonl"
SUMMARY = "summary.json"
ANOMALIES = "anomalies.jsonl"
PENDING = ".summary.json.pending"
RUNNING = ".running"
TRASH_PREFIX = ".trash-"
# A folder with no trace file yet is a session being set up, for this long.
STARTING_GRACE_S = 60.0

_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_REST = _ID_FIRST | frozenset("._-")


class StoreError(Exception):
    """The store cannot be used; the message says what and why, on one line."""


def session_id_problem(session_id: str) -> str | None:
    """Why ``session_id`` cannot name a folder, or None when it can.

    Allowed: ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}`` without ``..``.
    """
    if not session_id:
        return "it is empty"
    if len(session_id) > 128:
        return f"it is {len(session_id)} characters long (at most 128)"
    if session_id[0] not in _ID_FIRST:
        return "it must start with a letter or a digit"
    bad = sorted({c for c in session_id if c not in _ID_REST})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        return f"it contains {shown} (allowed: letters, digits, '.', '_', '-')"
    if ".." in session_id:
        return "it contains '..'"
    return None


def _open_private(path: StrPath, flags: int) -> int:
    """Open a file 0600 whatever the umask; never through a symlink."""
    fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    with suppress(OSError):
        os.fchmod(fd, 0o600)
    return fd


def _mkdir_private(path: str) -> None:
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)


def _makedirs_private(path: str) -> None:
    """Create ``path`` and its missing parents 0700 whatever the umask; existing ones stay."""
    missing: list[str] = []
    while not os.path.lexists(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        with suppress(FileExistsError):
            _mkdir_private(folder)


def _refuse_foreign(path: str, st: os.stat_result, what: str) -> None:
    """A folder of another user that others can write to could redirect our writes."""
    if st.st_uid != os.geteuid() and st.st_mode & 0o022:
        raise StoreError(f"{what} {path} belongs to another user and others can write to it")


def write_atomic(path: StrPath, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    folder, name = os.path.split(os.fspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    fd = _open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def try_lock(path: StrPath) -> int | None:
    """An fd holding an exclusive lock on what is at ``path`` now, or None.

    None when someone holds the lock, or when the file was moved away between
    the open and the lock (a prune renames a finished session's folder after
    locking its trace): a lock on a file that is no longer at ``path`` would
    let a recoverer "finalize" a folder that is gone.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


class _Flock:
    """An exclusive ``flock`` on a file, held for the time of a ``with`` block."""

    __slots__ = ("_fd", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        fd = _open_private(self._path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LogRoot:
    """One log root: its session folders and its index, each path a ``str``."""

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self.sessions = os.path.join(self.path, SESSIONS)
        self.index = os.path.join(self.path, INDEX)
        self.running = os.path.join(self.path, RUNNING)

    def ensure(self) -> None:
        """Create the root and ``sessions/``; refuse a root others could redirect."""
        import stat as stat_mod

        try:
            _makedirs_private(self.path)
            st = os.lstat(self.path)
        except OSError as exc:
            raise StoreError(f"cannot create log folder {self.path}: {exc.strerror}") from None
        if stat_mod.S_ISLNK(st.st_mode):
            # Our own link is our choice; another user's could point anywhere.
            if st.st_uid != os.geteuid():
                raise StoreError(
                    f"log folder {self.path} is a symlink owned by another user; "
                    "refusing to write there"
                )
            try:
                st = os.stat(self.path)
            except OSError as exc:
                raise StoreError(f"cannot use log folder {self.path}: {exc.strerror}") from None
        if not stat_mod.S_ISDIR(st.st_mode):
            raise StoreError(f"log folder {self.path} is not a folder")
        _refuse_foreign(self.path, st, "log folder")
        for folder in (self.sessions, self.running):
            try:
                _mkdir_private(folder)
            except FileExistsError:
                if os.path.islink(folder) or not os.path.isdir(folder):
                    raise StoreError(f"{folder} is not a folder") from None
                _refuse_foreign(folder, os.lstat(folder), "folder")
            except OSError as exc:
                raise StoreError(f"cannot create {folder}: {exc.strerror}") from None

    def create_session_dir(self, base: str) -> str:
        """A new folder named ``base``, or ``base-2``, ``base-3``... if taken.

        Its running marker comes first and is created exclusively: it claims
        the name, and no unfinished folder ever exists without one.
        """
        for n in range(1, 10_000):
            name = base if n == 1 else f"{base}-{n}"
            path = os.path.join(self.sessions, name)
            if os.path.islink(path):
                raise StoreError(f"session folder {path} is a symlink; refusing to write there")
            marker = os.path.join(self.running, name)
            try:
                os.close(_open_private(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot create {marker}: {exc.strerror}") from None
            try:
                _mkdir_private(path)
            except OSError as exc:
                _unlink_quietly(marker)
                if isinstance(exc, FileExistsError):
                    continue
                raise StoreError(f"cannot create session folder {path}: {exc.strerror}") from None
            return path
        raise StoreError(f"too many session folders named {base}")

    def index_lock(self) -> _Flock:
        """``with root.index_lock():`` holds ``.sessions.lock``, as every writer of the index."""
        return _Flock(os.path.join(self.path, LOCK))

    def append_index(self, record: dict[str, Any]) -> None:
        """One line, one write, under the index lock.

        After a line cut short (a full disk, a crash), the new line starts on
        a line of its own instead of being glued to the broken one.
        """
        line = dumps_line(record)
        with self.index_lock():
            fd = _open_private(self.index, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                write_all(fd, line)
            finally:
                os.close(fd)

    def session_dirs(self) -> list[str]:
        """Session folders (hidden trash and temporary names excluded)."""
        try:
            with os.scandir(self.sessions) as entries:
                return [
                    e.path
                    for e in entries
                    if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                ]
        except FileNotFoundError:
            return []

    # -- publishing and recovery ---------------------------------------------

    def publish(self, folder: StrPath, summary: dict[str, Any]) -> None:
        """Write a finished session's summary and its index line, crash-safely.

        Order: ``.summary.json.pending`` (whole or absent), the index line, then
        the rename to ``summary.json``.  A crash at any point leaves a folder
        that recovery completes without losing or doubling the index line.
        """
        from autoskillit_trace.summary import index_record

        pending = os.path.join(folder, PENDING)
        write_atomic(pending, summary_bytes(summary))
        try:
            self.append_index(index_record(summary))
        finally:
            # An index that cannot be written (the caller warns) leaves the
            # session's own record whole all the same.
            self._finished(folder, pending)

    def _finished(self, folder: StrPath, pending: str) -> None:
        """The pending summary becomes summary.json; the running marker goes."""
        os.replace(pending, os.path.join(folder, SUMMARY))
        _unlink_quietly(os.path.join(self.running, os.path.basename(os.fspath(folder))))

    def orphans(self) -> list[str]:
        """Folder names of sessions whose wrapper is gone before finishing (read-only)."""
        found: list[str] = []
        for folder in self.session_dirs():
            lock_fd = self._lock_unfinished(folder)
            if lock_fd is not None:
                os.close(lock_fd)
                found.append(os.path.basename(folder))
        return found

    def recover_orphans(
        self, finalize: Callable[[str], dict[str, Any]] | None = None, marked_only: bool = False
    ) -> list[str]:
        """Finalize sessions whose wrapper is gone; returns their folder names.

        Every folder is looked at, or with ``marked_only`` only those with a
        running marker (what ``run`` does: the unfinished ones, however large
        the store); stale markers are removed on the way.

        ``finalize(folder)`` builds the crashed summary from the streamed trace
        (default: ``recovery.finalize_crashed``, imported only when an orphan
        is found, so that a run with nothing to recover never loads it); it
        runs while this process holds the folder's lock, so two recoverers
        never finalize the same session.  A session that died while
        publishing its own summary is completed with that summary instead,
        and one that has its index line gets its summary.json rebuilt from
        it: never a second line.
        """
        recovered: list[str] = []
        for folder in self._marked() if marked_only else self.session_dirs():
            lock_fd = self._lock_unfinished(folder)
            if lock_fd is None:
                continue
            try:
                if has_summary(folder):
                    continue  # another recoverer was first
                _remove_temporaries(folder)  # a writer died inside write_atomic
                self._complete(folder, finalize or _finalize_crashed)
                recovered.append(os.path.basename(folder))
            finally:
                os.close(lock_fd)
        return recovered

    def _complete(self, folder: str, finalize: Callable[[str], dict[str, Any]]) -> None:
        """Give a session whose wrapper is gone its summary.json, and its index line
        if it has none; the caller holds the session's lock."""
        from autoskillit_trace.summary import index_record

        name = os.path.basename(folder)
        pending = read_json_object(os.path.join(folder, PENDING))
        if pending is not None:  # died while publishing its own summary
            if self._index_line(name, _text(pending, "start_ts")) is None:
                self.append_index(index_record(pending))
            self._finished(folder, os.path.join(folder, PENDING))
            return
        line = self._index_line(name, _text(trace_header(folder), "start_ts"))
        if line is None:
            self.publish(folder, finalize(folder))
            return
        # Published, then its summary.json was lost or damaged: the line stays the only one.
        write_atomic(os.path.join(folder, SUMMARY), summary_bytes(_rebuild_summary(folder, line)))
        _unlink_quietly(os.path.join(self.running, name))

    def _marked(self) -> list[str]:
        """Folders of the running markers; a marker whose session finished, or whose
        folder never came (or is gone), is removed."""
        try:
            names = os.listdir(self.running)
        except OSError:
            return []
        folders = []
        for name in names:
            marker = os.path.join(self.running, name)
            folder = os.path.join(self.sessions, name)
            if has_summary(folder):
                _unlink_quietly(marker)  # its wrapper died between the two steps
            elif os.path.isdir(folder):
                folders.append(folder)
            elif _age(marker) >= STARTING_GRACE_S:
                _unlink_quietly(marker)
        return folders

    def _lock_unfinished(self, folder: str) -> int | None:
        """The session's lock when it has no summary and its wrapper is gone, else None."""
        if has_summary(folder):
            return None
        trace = os.path.join(folder, TRACE)
        if os.path.exists(trace):
            return try_lock(trace)
        if _age(folder) < STARTING_GRACE_S:
            return None  # still being set up
        # No trace ever written: lock the folder itself for exclusivity.
        return try_lock(folder)

    def _index_line(self, dir_name: str, start_ts: str | None) -> dict[str, Any] | None:
        """The index line of the session in ``dir_name`` that started at ``start_ts``
        (any, when None), or None; a full scan: recovery only.

        The start time tells this session's line from that of an earlier one
        whose folder was deleted by hand, leaving its line and its name free.
        """
        needle = dir_name.encode()
        with suppress(FileNotFoundError), open(self.index, "rb") as handle:
            for line in handle:
                record = parse_line(line) if needle in line else None
                if (
                    record is not None
                    and record.get("dir_name") == dir_name
                    and (start_ts is None or record.get("start_ts") == start_ts)
                ):
                    return record
        return None

    # -- retention ----------------------------------------------------------

    def prune(
        self,
        keep: int | None,
        older_than_s: float | None = None,
        dry_run: bool = False,
        now: float | None = None,
        slack: int = 0,
    ) -> PruneReport:
        """Remove finished sessions beyond the newest ``keep`` or older than ``older_than_s``.

        With more than ``keep`` folders, ``slack`` more go, so that a store at
        its limit is not pruned (and its index rewritten) at every run.

        A session that is running (its trace is locked) or unfinished is never
        removed.  Folders are first renamed to hidden trash names (atomic), the
        index is rewritten without their lines under the index lock, then the
        trash is deleted: no folder is ever seen half-removed.
        """
        now = time.time() if now is None else now
        if not dry_run:
            self._clear_trash()
        folders = self.session_dirs()
        report = PruneReport(dry_run=dry_run, sessions_before=len(folders))
        if (keep is None or len(folders) <= keep) and older_than_s is None:
            return report
        if keep is not None and len(folders) > keep:
            keep = max(0, keep - slack)
        starts, line_names = self._read_index()
        infos = []
        for folder in folders:
            name = os.path.basename(folder)
            start = starts.get(name) or _start_from_summary(folder) or _mtime(folder)
            finished = os.path.exists(os.path.join(folder, SUMMARY))
            infos.append(SessionInfo(name, start, finished))
        victims = plan_prune(infos, keep, older_than_s, now)
        if not victims:
            return report
        with self.index_lock():
            removed: list[tuple[str, str]] = []
            trash_prefix = f"{TRASH_PREFIX}{os.getpid()}-"
            for info in victims:
                folder = os.path.join(self.sessions, info.dir_name)
                if not os.path.exists(os.path.join(folder, SUMMARY)):
                    # Pruned meanwhile, or its name already reused by a new session.
                    continue
                trace = os.path.join(folder, TRACE)
                lock_fd = try_lock(trace)
                if lock_fd is None and os.path.exists(trace):
                    continue  # still held by its wrapper
                try:
                    if dry_run:
                        report.bytes_freed += _tree_size(folder)
                    else:
                        trash = os.path.join(self.sessions, trash_prefix + info.dir_name)
                        os.rename(folder, trash)
                        removed.append((info.dir_name, trash))
                    report.removed.append(info.dir_name)
                finally:
                    if lock_fd is not None:
                        os.close(lock_fd)
            if removed:
                try:
                    self._rewrite_index_without({name for name, _ in removed}, line_names)
                except OSError:
                    # The index still names them: put them back rather than half-remove.
                    for name, trash in removed:
                        with suppress(OSError):
                            os.rename(trash, os.path.join(self.sessions, name))
                    raise
        report.bytes_freed += remove_folders([trash for _, trash in removed])
        return report

    def _read_index(self) -> tuple[dict[str, float], dict[bytes, str | None]]:
        """Start time of each indexed session, and each index line's ``dir_name``.

        The second lets the rewrite that follows skip parsing every line again.
        """
        from autoskillit_trace.timeutil import parse_iso

        starts: dict[str, float] = {}
        names: dict[bytes, str | None] = {}
        for line in _index_lines(self.index):
            record = parse_line(line)
            names[line] = name = _text(record, "dir_name")
            ts = _text(record, "start_ts")
            if name is not None and ts is not None:
                parsed = parse_iso(ts)
                if parsed is not None:
                    starts[name] = parsed
        return starts, names

    def _rewrite_index_without(
        self, names: set[str], known: dict[bytes, str | None] | None = None
    ) -> None:
        """Rewrite the index without ``names``' lines; caller holds the index lock.

        ``known`` maps lines already parsed to their ``dir_name``.  Lines that
        are not valid JSON are kept as they are: never lose data.
        """
        known = known or {}
        kept: list[bytes] = []
        for line in _index_lines(self.index):
            name = known[line] if line in known else _dir_name(line)
            if name not in names:
                kept.append(line + b"\n")
        write_atomic(self.index, b"".join(kept))

    def _clear_trash(self) -> None:
        """Delete what a prune that died midway left (its pid is gone): trash, temporaries."""
        try:
            names = [n for n in os.listdir(self.sessions) if n.startswith(TRASH_PREFIX)]
        except FileNotFoundError:
            names = []
        for name in names:
            owner = name[len(TRASH_PREFIX) :].split("-", 1)[0]
            if owner.isdigit() and int(owner) != os.getpid() and _pid_alive(int(owner)):
                continue
            remove_folder(os.path.join(self.sessions, name))
        # The temporary of an index rewrite that died midway: .sessions.jsonl.<pid>.tmp
        prefix = f".{INDEX}."
        with suppress(OSError):
            for name in os.listdir(self.path):
                owner = name[len(prefix) : -len(".tmp")]
                if not (name.startswith(prefix) and name.endswith(".tmp") and owner.isdigit()):
                    continue
                if int(owner) == os.getpid() or not _pid_alive(int(owner)):
                    _unlink_quietly(os.path.join(self.path, name))


class SessionInfo(Record):
    """What retention needs to know of one session folder."""

    __slots__ = ("dir_name", "finished", "start")

    def __init__(self, dir_name: str, start: float, finished: bool) -> None:
        self.dir_name = dir_name
        self.start = start  # seconds since the epoch
        self.finished = finished


class PruneReport(Record):
    """What a prune removed (or, with dry_run, would remove)."""

    __slots__ = ("bytes_freed", "dry_run", "removed", "sessions_before")

    def __init__(self, dry_run: bool, sessions_before: int = 0) -> None:
        self.dry_run = dry_run
        self.sessions_before = sessions_before
        self.removed: list[str] = []
        self.bytes_freed = 0


def plan_prune(
    sessions: list[SessionInfo], keep: int | None, older_than_s: float | None, now: float
) -> list[SessionInfo]:
    """Which sessions go: beyond the newest ``keep``, or older than ``older_than_s``.

    Unfinished sessions count toward ``keep`` but are never chosen.
    """
    newest_first = sorted(sessions, key=lambda s: (s.start, s.dir_name), reverse=True)
    victims = []
    for position, info in enumerate(newest_first):
        too_many = keep is not None and position >= keep
        too_old = older_than_s is not None and now - info.start > older_than_s
        if info.finished and (too_many or too_old):
            victims.append(info)
    return victims


def summary_bytes(summary: dict[str, Any]) -> bytes:
    """summary.json's text: indented for people, valid UTF-8 whatever the command line."""
    return (dumps_pretty(summary) + "\n").encode("utf-8", "backslashreplace")


def read_json_object(path: StrPath) -> dict[str, Any] | None:
    """A JSON object from a small file, or None when absent or not an object."""
    try:
        with open(path, "rb") as handle:
            return parse_line(handle.read())
    except OSError:
        return None


def has_summary(folder: StrPath) -> bool:
    """Whether the session in ``folder`` has a summary.json that reads as a JSON object.

    Ours are renamed in whole, so one that is empty, cut short or not JSON
    was damaged afterwards: it counts as none, and recovery rebuilds it.
    """
    return read_json_object(os.path.join(folder, SUMMARY)) is not None


def trace_header(folder: StrPath) -> dict[str, Any] | None:
    """The session_start record, the first line of the session's trace; None when unreadable."""
    try:
        with open(os.path.join(folder, TRACE), "rb") as handle:
            return parse_line(handle.readline(1 << 16))
    except OSError:
        return None


def _start_from_summary(folder: str) -> float | None:
    from autoskillit_trace.timeutil import parse_iso

    ts = _text(read_json_object(os.path.join(folder, SUMMARY)), "start_ts")
    return parse_iso(ts) if ts is not None else None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _unlink_quietly(path: StrPath) -> None:
    with suppress(OSError):
        os.unlink(path)


def _age(path: str) -> float:
    return time.time() - _mtime(path)


def _tree_size(folder: str) -> int:
    total = 0
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with suppress(OSError):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def _remove_temporaries(folder: str) -> None:
    """Delete the hidden ``.*.tmp`` files of a writer that died inside write_atomic."""
    with suppress(OSError):
        for name in os.listdir(folder):
            if name.startswith(".") and name.endswith(".tmp") and len(name) > len(".tmp"):
                _unlink_quietly(os.path.join(folder, name))


def _finalize_crashed(folder: str) -> dict[str, Any]:
    """The crash finalizer, imported when an orphan is found (recovery imports this module)."""
    from autoskillit_trace.recovery import finalize_crashed

    return finalize_crashed(folder)


def _rebuild_summary(folder: str, line: dict[str, Any]) -> dict[str, Any]:
    """recovery.rebuild_summary, imported when needed (recovery imports this module)."""
    from autoskillit_trace.recovery import rebuild_summary

    return rebuild_summary(folder, line)


def _index_lines(index: str) -> list[bytes]:
    """The index's non-blank lines (without their newlines); none when it is absent."""
    try:
        with open(index, "rb") as handle:
            return [line for line in handle.read().split(b"\n") if line.strip()]
    except FileNotFoundError:
        return []


def _dir_name(line: bytes) -> str | None:
    return _text(parse_line(line), "dir_name")


def _text(record: dict[str, Any] | None, key: str) -> str | None:
    """``record[key]`` when it is a string, else None."""
    value = record.get(key) if record is not None else None
    return value if isinstance(value, str) else None


# Below this many folders, removing them one after the other is quicker than
# starting threads.
_PARALLEL_FROM = 64
_REMOVERS = 4


def remove_folders(paths: list[str]) -> int:
    """Delete session folders, best effort; the bytes their files held.

    Many folders are removed by a few threads, each taking a contiguous
    share.  Deleting is bound by waits in the kernel, not by Python: on a
    file system mounted with ``discard`` every freed block is discarded
    synchronously, and threads overlap those waits (9,500 synced folders:
    3.0 s one by one, 1.45 s with four threads).  The threads are daemons:
    an interrupted prune leaves trash that the next prune clears.
    """
    if len(paths) < _PARALLEL_FROM:
        return sum(remove_folder(path) for path in paths)
    import threading

    freed = [0] * _REMOVERS
    n = len(paths)
    shares = [paths[i * n // _REMOVERS : (i + 1) * n // _REMOVERS] for i in range(_REMOVERS)]

    def remove(index: int) -> None:
        freed[index] = sum(remove_folder(path) for path in shares[index])

    threads = [threading.Thread(target=remove, args=(i,), daemon=True) for i in range(1, _REMOVERS)]
    for thread in threads:
        thread.start()
    remove(0)
    for thread in threads:
        thread.join()
    return sum(freed)


def remove_folder(path: StrPath) -> int:
    """Delete a session folder, best effort; the bytes its files held.

    Session folders hold only files, so unlinking them (relative to the
    folder's fd: no path walks) and removing the folder is enough, and it is
    about 40% quicker than ``shutil.rmtree`` here (which opens, stats and
    scans each level); anything else falls back to it.
    """
    freed = 0
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    with suppress(OSError):
                        freed += entry.stat(follow_symlinks=False).st_size
                    os.unlink(entry.name, dir_fd=fd)
        finally:
            os.close(fd)
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil  # lazily: it loads the compression modules

        shutil.rmtree(path, ignore_errors=True)
    return freed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Faults:
    """Reports tracing faults: the first as one warning, the rest silently.

    A fault in tracing never reaches the command: callers catch OSError, tell
    this object, and go on.
    """

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self.count = 0

    def report(self, what: str, exc: BaseException | str) -> None:
        self.count += 1
        if self.count == 1:
            reason = exc if isinstance(exc, str) else getattr(exc, "strerror", None) or str(exc)
            self._warn(f"{what}: {reason}; the command goes on")


class SessionWriter:
    """Writes one session folder.  Every method swallows OSError into ``faults``."""

    def __init__(self, folder: StrPath, faults: Faults) -> None:
        self.folder = os.fspath(folder)
        self.faults = faults
        self._trace = os.path.join(self.folder, TRACE)
        self._anomalies = os.path.join(self.folder, ANOMALIES)
        self._trace_fd: int | None = None  # also holds the session lock
        self._folder_fd: int | None = None  # the lock for a session without a trace
        self._trace_failed = False
        self._anomaly_fd: int | None = None
        self._anomalies_failed = False

    def open_trace(self) -> bool:
        """Create proc_trace.jsonl and lock it for the session's life.

        The file is created and locked under a hidden name, then renamed: a
        recoverer can never find the trace unlocked while its wrapper lives.
        The folder is locked too, so that a session whose trace could not be
        created is not mistaken for a crashed one either.
        """
        self._folder_fd = try_lock(self.folder)
        starting = os.path.join(self.folder, f".{TRACE}.starting")
        try:
            fd = _open_private(starting, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND)
        except OSError as exc:
            self.faults.report(f"cannot write {self._trace}", exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(starting, self._trace)
        except OSError as exc:
            os.close(fd)
            self.faults.report(f"cannot write {self._trace}", exc)
            return False
        self._trace_fd = fd
        return True

    def append_trace(self, record: dict[str, Any]) -> None:
        """One line per record, written at once; after a failed write, no more."""
        if self._trace_fd is None or self._trace_failed:
            return
        try:
            line = dumps_line(record)
            written = os.write(self._trace_fd, line)
            if written < len(line):  # a nearly full disk
                write_all(self._trace_fd, line[written:])
        except OSError as exc:
            # A cut line may now end the file; readers skip it, and nothing follows it.
            self._trace_failed = True
            self.faults.report(f"cannot write {self._trace}", exc)

    def append_anomaly(self, record: dict[str, Any]) -> None:
        if self._anomalies_failed:
            return
        try:
            if self._anomaly_fd is None:
                self._anomaly_fd = _open_private(
                    self._anomalies, os.O_WRONLY | os.O_CREAT | os.O_APPEND
                )
            write_all(self._anomaly_fd, dumps_line(record))
        except OSError as exc:
            self._anomalies_failed = True
            self.faults.report(f"cannot write {self._anomalies}", exc)

    def close(self) -> None:
        """Release the session lock: after this, the session counts as finished."""
        for fd in (self._anomaly_fd, self._trace_fd, self._folder_fd):
            if fd is not None:
                with suppress(OSError):
                    os.close(fd)
        self._anomaly_fd = self._trace_fd = self._folder_fd = None
