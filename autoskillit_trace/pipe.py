"""The command's stdout as a pipe the wrapper relays (``--agent-events``).

Each chunk read is written to the wrapper's stdout whole before anything
else happens (no line is held back); only then may the caller parse it.
When the wrapper's stdout is gone, the pipe is closed, so the command gets
EPIPE on its next write, as it would bare.
"""

from __future__ import annotations

import os

from autoskillit_trace.ctx import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

READ_SIZE = 1 << 16
DRAIN_CHUNKS = 64  # a pipe holds at most 1 MiB: a leftover writer cannot keep us draining


class OutputPipe:
    """One pipe: the command writes its stdout (and, with ``2>&1``, its stderr) into it."""

    __slots__ = ("fd", "write_end")

    def __init__(self) -> None:
        self.fd: int | None
        self.fd, self.write_end = os.pipe2(os.O_CLOEXEC)

    def spawn_actions(self, stderr_too: bool) -> list[tuple[Any, ...]]:
        """``posix_spawn`` file actions that make the pipe the command's stdout (and stderr)."""
        targets = (1, 2) if stderr_too else (1,)
        return [(os.POSIX_SPAWN_DUP2, self.write_end, fd) for fd in targets]

    def spawned(self) -> None:
        """The command holds the write end now (or was never started): ours goes."""
        with suppress(OSError):
            os.close(self.write_end)

    def relay(self) -> bytes | None:
        """Pass one chunk through and return it; b"" when none was ready, None once done."""
        if self.fd is None:
            return None
        try:
            chunk = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError:
            chunk = b""
        if not chunk or not write_all(1, chunk):
            self.close()
            return None
        return chunk

    def drain(self) -> list[bytes]:
        """What the exited command left in the pipe, relayed without blocking."""
        chunks: list[bytes] = []
        if self.fd is None:
            return chunks
        os.set_blocking(self.fd, False)
        for _ in range(DRAIN_CHUNKS):
            if self.fd is None or not _readable(self.fd):
                break
            chunk = self.relay()
            if not chunk:
                break
            chunks.append(chunk)
        return chunks

    def close(self) -> None:
        if self.fd is not None:
            with suppress(OSError):
                os.close(self.fd)
            self.fd = None


def write_all(fd: int, chunk: bytes) -> bool:
    """Write ``chunk`` to ``fd`` whole (waiting while it is full); False when it is gone."""
    view = memoryview(chunk)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [])
            continue
        except OSError:  # a broken pipe, a full disk: the command's writes fail from now on
            return False
        view = view[written:]
    return True


def _readable(fd: int) -> bool:
    import select

    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False
