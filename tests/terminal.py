"""A program on a real pseudo-terminal: type into it, read what it draws.

The terminal tests (Ctrl-C, Ctrl-Z and ``fg`` in an interactive bash, a
full-screen program) run the real programs as a user's terminal would: the
program leads a new session whose controlling terminal is the pty.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Sequence

CTRL_C = b"\x03"
CTRL_Z = b"\x1a"


class Terminal:
    """``argv`` started on a new pty, 24 rows by ``columns`` (80)."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str | None = None,
        columns: int = 80,
    ) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session leader whose controlling terminal is the pty
            try:
                # Sized before the exec, so the program never sees another size.
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
                if cwd is not None:
                    os.chdir(cwd)
                os.execvpe(argv[0], list(argv), env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.transcript = bytearray()
        self.status: int | None = None

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def send_until(self, data: bytes, needle: bytes, start: int = 0, tries: int = 30) -> int:
        """Send ``data`` until ``needle`` shows after ``start``; its end offset.

        A REPL prints its prompt before its line editor has the terminal: a
        key typed in between can be lost, bare as under the wrapper (seen
        with Ctrl-C and Python's REPL on a loaded machine).  So it is typed
        again, every second, until the program answers.
        """
        for _ in range(tries - 1):
            self.send(data)
            with contextlib.suppress(AssertionError):
                return self.read_until(needle, timeout=1.0, start=start)
        self.send(data)
        return self.read_until(needle, start=start)

    def read_until(self, needle: bytes, timeout: float = 30.0, start: int = 0) -> int:
        """Read until ``needle`` is in the transcript after ``start``; its end offset."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.transcript.find(needle, start)
            if found >= 0:
                return found + len(needle)
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                shown = bytes(self.transcript[-2000:]).decode(errors="replace")
                raise AssertionError(f"no {needle!r} on the terminal; it shows:\n{shown}")

    def wait(self, timeout: float = 30.0) -> int:
        """Read to the end, then reap the program; its exit status (-N for signal N)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        while self.status is None and time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            else:
                time.sleep(0.02)
        if self.status is None:
            raise AssertionError("the program on the terminal did not end")
        return self.status

    def close(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.status = -signal.SIGKILL
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def text(self, start: int = 0, end: int | None = None) -> str:
        return bytes(self.transcript[start:end]).decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        """Append what the terminal shows within ``timeout``; False at its end."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            return False
        if not data:
            return False
        self.transcript += data
        return True

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def interactive_bash(env: dict[str, str], cwd: str | None = None) -> Terminal:
    """An interactive bash with job control, no rc files, prompt ``$ ``, ready for input."""
    term = Terminal(
        ["bash", "--norc", "--noprofile", "-i"],
        {**env, "PS1": "$ ", "TERM": "dumb", "HISTFILE": "/dev/null"},
        cwd,
    )
    term.read_until(b"$ ")
    return term
