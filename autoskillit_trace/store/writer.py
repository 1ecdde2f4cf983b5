"""Writing one session folder while the session runs: its trace and its anomalies.

The trace is locked from its creation until the session ends: that lock is
what tells a live session from a crashed one.
"""

from __future__ import annotations

import os

from autoskillit_trace.ctx import suppress
from autoskillit_trace.fsutil import lock_new, open_private, try_lock, write_all
from autoskillit_trace.jsonl import dumps_line
from autoskillit_trace.store.layout import ANOMALIES, PROCESSES, TRACE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath

    from autoskillit_trace.faults import Faults


class SessionWriter:
    """Writes one session folder.  Every method swallows OSError into ``faults``."""

    def __init__(self, folder: StrPath, faults: Faults) -> None:
        self.folder = os.fspath(folder)
        self.faults = faults
        self._trace = os.path.join(self.folder, TRACE)
        self._trace_fd: int | None = None  # also holds the session lock
        self._folder_fd: int | None = None  # the lock for a session without a trace
        self._trace_failed = False
        self._anomalies = LineFile(os.path.join(self.folder, ANOMALIES), faults)
        self._processes = LineFile(os.path.join(self.folder, PROCESSES), faults)

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
            fd = lock_new(starting)
        except OSError as exc:
            self.faults.report(f"cannot write {self._trace}", exc)
            return False
        try:
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
        self._anomalies.append(record)

    def append_process(self, record: dict[str, Any]) -> None:
        """A process that left the tree (or was still in it at the end): processes.jsonl."""
        self._processes.append(record)

    def close(self) -> None:
        """Release the session lock: after this, the session counts as finished."""
        self._anomalies.close()
        self._processes.close()
        for fd in (self._trace_fd, self._folder_fd):
            if fd is not None:
                with suppress(OSError):
                    os.close(fd)
        self._trace_fd = self._folder_fd = None


class LineFile:
    """A JSON-lines file of the session, created at its first line; one ``write`` per line.

    After a failed write it is mute, the fault reported once.
    """

    def __init__(self, path: str, faults: Faults) -> None:
        self.path = path
        self.faults = faults
        self._fd: int | None = None
        self._failed = False

    def append(self, record: dict[str, Any]) -> None:
        if self._failed:
            return
        try:
            if self._fd is None:
                self._fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            write_all(self._fd, dumps_line(record))
        except OSError as exc:
            self._failed = True
            self.faults.report(f"cannot write {self.path}", exc)

    def close(self) -> None:
        if self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None
