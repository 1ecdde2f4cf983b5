"""The command's stdout as a pipe the wrapper relays (``--agent-events``).

Each chunk read is written to the wrapper's stdout whole before anything
else happens (no line is held back); only then may the caller parse it.
When the wrapper's stdout is gone, the pipe is closed, so the command gets
EPIPE on its next write, as it would bare.

Throughput: the pipe is widened to ``PIPE_SIZES[0]`` (1 MiB, what
/proc/sys/fs/pipe-max-size lets any user ask for), and so is the wrapper's
stdout when it is a pipe too; each wake-up of the loop reads up to
``READ_SIZE``.  With the kernel's 64 KiB pipes the writer, the wrapper and
the reader took turns every 64 KiB, and the context switches cost more than
the copying.  Reads stay at 256 KiB: each read allocates its bytes object,
and larger ones were served from fresh pages, a fault for every 4 KiB.
"""

from __future__ import annotations

import os

from autoskillit_trace.ctx import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PIPE_SIZES = (1 << 20, 1 << 18)  # tried in turn; a pipe the kernel will not widen keeps its size
READ_SIZE = 1 << 18
DRAIN_BYTES = 4 << 20  # more than the pipe holds: a leftover writer cannot keep us draining


class OutputPipe:
    """One pipe: the command writes its stdout (and, with ``2>&1``, its stderr) into it."""

    __slots__ = ("fd", "read_size", "write_end")

    def __init__(self) -> None:
        self.fd: int | None
        self.fd, self.write_end = os.pipe2(os.O_CLOEXEC)
        # A read larger than the pipe would come back short, every time.
        self.read_size = min(READ_SIZE, widen_pipe(self.fd) or READ_SIZE)
        widen_pipe(1)

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
            chunk = os.read(self.fd, self.read_size)
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
        drained = 0
        while drained < DRAIN_BYTES:
            if self.fd is None or not _readable(self.fd):
                break
            chunk = self.relay()
            if not chunk:
                break
            chunks.append(chunk)
            drained += len(chunk)
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


def widen_pipe(fd: int, sizes: tuple[int, ...] = PIPE_SIZES) -> int | None:
    """Let the pipe ``fd`` hold the first of ``sizes`` the kernel allows; its size, None if no pipe.

    Only ever grows a pipe: that changes how much may wait in it, not what
    passes through, nor in what order.  An unprivileged user may not ask for
    more than /proc/sys/fs/pipe-max-size, nor past the per-user total of
    /proc/sys/fs/pipe-user-pages-soft (64 MiB); then the pipe keeps its size.
    """
    import fcntl

    try:
        size: int = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except OSError:  # not a pipe: a file, a terminal, /dev/null
        return None
    for wanted in sizes:
        if wanted <= size:
            break
        try:
            return int(fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, wanted))
        except OSError:  # refused: try the next size
            continue
    return size


def _readable(fd: int) -> bool:
    import select

    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False
