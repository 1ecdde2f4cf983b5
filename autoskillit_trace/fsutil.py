"""File primitives: private modes, atomic replacement, locks, reading regular files only.

Everything it creates holds command lines, so files are 0600 and folders
0700 whatever the umask, and nothing is opened through a symlink.  Paths are
plain ``str`` (or ``os.PathLike``): ``pathlib`` costs ``run`` ~6 ms a start.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from autoskillit_trace.ctx import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from _typeshed import StrPath

TMP_SUFFIX = ".tmp"


def open_regular(path: StrPath) -> BinaryIO:
    """``open(path, "rb")`` for a regular file only (symlinks followed).

    A FIFO or a device in a file's place (a damaged store, a hostile config)
    raises OSError instead of waiting forever for a writer or reading
    without end: it is opened without blocking, then looked at.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may stop short on a nearly full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def open_private(path: StrPath, flags: int) -> int:
    """Open a file 0600 whatever the umask; never through a symlink."""
    fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    with suppress(OSError):
        os.fchmod(fd, 0o600)
    return fd


def mkdir_private(path: str) -> None:
    """Create a folder 0700 whatever the umask."""
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)


def makedirs_private(path: str) -> None:
    """Create ``path`` and its missing parents 0700 whatever the umask; existing ones stay."""
    missing: list[str] = []
    while not os.path.lexists(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        with suppress(FileExistsError):
            mkdir_private(folder)


def unlink_quietly(path: StrPath) -> None:
    with suppress(OSError):
        os.unlink(path)


def mtime(path: str) -> float:
    """The modification time of ``path``; 0 when it cannot be read."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def write_atomic(path: StrPath, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The temporary is ``.<name>.<pid>.tmp`` beside it: a writer that died
    midway leaves one that ``remove_temporaries`` (or its pid) tells apart.
    """
    folder, name = os.path.split(os.fspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}{TMP_SUFFIX}")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise


def remove_temporaries(folder: str) -> None:
    """Delete the hidden ``.*.tmp`` files of a writer that died inside write_atomic."""
    with suppress(OSError):
        for name in os.listdir(folder):
            if name.startswith(".") and name.endswith(TMP_SUFFIX) and len(name) > len(TMP_SUFFIX):
                unlink_quietly(os.path.join(folder, name))


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


def lock_new(path: str) -> int:
    """Create ``path`` (it must not exist) and lock it at once; an fd holding the lock.

    Raises OSError when it cannot be created or locked.
    """
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


class LockBusy(OSError):
    """A lock still held by another process when the wait for it ran out."""


def lock_within(fd: int, wait_s: float, name: str) -> None:
    """Take an exclusive ``flock`` on ``fd`` within ``wait_s`` seconds, else LockBusy.

    A holder that never lets go (a stopped process, someone's ``flock`` in
    a shell) must not keep a wrapper from ending, nor a cron job forever.
    """
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockBusy(
                    errno.EWOULDBLOCK, f"{name} held by another process for {wait_s:g} s"
                ) from None
            time.sleep(0.05)


class Flock:
    """An exclusive ``flock`` on a file, held for the time of a ``with`` block; taken
    within ``wait_s`` seconds or LockBusy."""

    __slots__ = ("_fd", "_path", "_wait_s")

    def __init__(self, path: str, wait_s: float) -> None:
        self._path = path
        self._wait_s = wait_s
        self._fd: int | None = None

    def __enter__(self) -> None:
        fd = open_private(self._path, os.O_RDWR | os.O_CREAT)
        try:
            lock_within(fd, self._wait_s, self._path)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
