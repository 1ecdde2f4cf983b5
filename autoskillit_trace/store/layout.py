"""Where a log root keeps things, made safely, and what a session folder holds.

Layout (the seed's, exactly)::

    <root>/sessions.jsonl            one JSON line per finished session
    <root>/sessions/<dir_name>/      proc_trace.jsonl, summary.json, anomalies.jsonl,
                                     processes.jsonl
    <root>/.running/<dir_name>       an empty marker while the session is unfinished

Folders are 0700 and files 0600 whatever the umask: they hold command lines.
A root, or a folder in it, that another user owns and others can write to
is refused: it could redirect our writes.
"""

from __future__ import annotations

import os

from autoskillit_trace.fsutil import (
    makedirs_private,
    mkdir_private,
    open_private,
    open_regular,
    unlink_quietly,
)
from autoskillit_trace.jsonl import parse_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath

INDEX = "sessions.jsonl"
SESSIONS = "sessions"
LOCK = ".sessions.lock"
TRACE = "proc_trace.jsonl"
SUMMARY = "summary.json"
ANOMALIES = "anomalies.jsonl"
PROCESSES = "processes.jsonl"  # one line per process of the tree (accounting.py)
PENDING = ".summary.json.pending"
RUNNING = ".running"
TRASH_PREFIX = ".trash-"

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


def _refuse_foreign(path: str, st: os.stat_result, what: str) -> None:
    """A folder of another user that others can write to could redirect our writes."""
    if st.st_uid != os.geteuid() and st.st_mode & 0o022:
        raise StoreError(f"{what} {path} belongs to another user and others can write to it")


class Layout:
    """One log root's paths, each a ``str``, and the making of its folders."""

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self.sessions = os.path.join(self.path, SESSIONS)
        self.index = os.path.join(self.path, INDEX)
        self.lock = os.path.join(self.path, LOCK)
        self.running = os.path.join(self.path, RUNNING)

    def marker(self, folder: StrPath) -> str:
        """The running marker of the session in ``folder``."""
        return os.path.join(self.running, os.path.basename(os.fspath(folder)))

    def ensure(self) -> None:
        """Create the root and ``sessions/``; refuse a root others could redirect."""
        import stat as stat_mod

        try:
            makedirs_private(self.path)
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
                mkdir_private(folder)
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
                os.close(open_private(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot create {marker}: {exc.strerror}") from None
            try:
                mkdir_private(path)
            except OSError as exc:
                unlink_quietly(marker)
                if isinstance(exc, FileExistsError):
                    continue
                raise StoreError(f"cannot create session folder {path}: {exc.strerror}") from None
            return path
        raise StoreError(f"too many session folders named {base}")

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


# -- what a session folder holds ----------------------------------------------------


def read_json_object(path: StrPath) -> dict[str, Any] | None:
    """A JSON object from a small file, or None when absent or not an object."""
    try:
        return _json_object(path)
    except OSError:
        return None


def _json_object(path: StrPath) -> dict[str, Any] | None:
    """A JSON object from a small file, or None when not an object; OSError when unreadable."""
    with open_regular(path) as handle:
        return parse_line(handle.read())


def has_summary(folder: StrPath) -> bool:
    """Whether the session in ``folder`` has a summary.json that reads as a JSON object.

    Ours are renamed in whole, so one that is empty, cut short or not JSON
    was damaged afterwards: it counts as none, and recovery rebuilds it.  One
    that this user may not read counts as there: never replaced unread.
    """
    try:
        return _json_object(os.path.join(folder, SUMMARY)) is not None
    except PermissionError:
        return True
    except OSError:
        return False


def trace_header(folder: StrPath) -> dict[str, Any] | None:
    """The session_start record, the first line of the session's trace; None when unreadable."""
    try:
        with open_regular(os.path.join(folder, TRACE)) as handle:
            return parse_line(handle.readline(1 << 16))
    except OSError:
        return None


def text(record: dict[str, Any] | None, key: str) -> str | None:
    """``record[key]`` when it is a string, else None."""
    value = record.get(key) if record is not None else None
    return value if isinstance(value, str) else None
