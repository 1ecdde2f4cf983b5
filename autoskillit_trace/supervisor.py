"""Spawn the command, forward signals, and run the timer loop until it exits.

The loop is the whole design: the wrapper blocks the signals it cares about
and waits for them, with a timeout that is the time left until the next due
moment (a snapshot, the ``--timeout`` deadline, an idle check, the end of a
kill grace period).  It therefore sleeps exactly until something is due, and
wakes at once when the child exits (SIGCHLD) or a signal arrives; there are
no handlers, threads or asyncio, and no signal can interrupt the recording of
the session.

Two ways to wait, one loop:

- Plain runs wait with ``sigtimedwait`` on the blocked signals, as cheap as a
  wrapper can be.
- With ``--agent-events`` the child's stdout is a pipe the wrapper must read,
  so it waits with ``poll`` on the pipe and on a ``signalfd`` (see ``libc``)
  that reports the same blocked signals as a readable descriptor.  Child
  exit and forwarded signals still wake it at once, with the ``si_code`` the
  terminal check needs, and nothing is polled on a timer.  Where signalfd
  is missing, the loop polls with a 50 ms bound and drains signals with
  ``sigtimedwait(..., 0)``.

Each chunk read from the pipe is written to the wrapper's stdout before
anything else happens (no line is held back), then handed to ``on_output``.

Stopping (timeout, stall) is graceful: SIGTERM to every process of the tree,
SIGKILL to whatever survives ``kill_grace`` seconds.  The wrapper is a child
subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so descendants whose parents
exit are re-parented to it: they stay in the tree, are reaped as they exit,
and the ones alive when the command exits are reported as orphans.
"""

from __future__ import annotations

import os
import time

from autoskillit_trace.ctx import suppress
from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Sequence
    from typing import Any

    from autoskillit_trace.sampler import TreeFinder
else:
    # The same functions and constants as ``signal``, without the enums that
    # signal.py builds at import: those pull in enum, functools and collections,
    # ~4 ms of CPU at every run.  Signal numbers are plain ints throughout.
    try:
        import _signal as signal
    except ImportError:  # another Python
        import signal

FORWARDED = (
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# Python ignores these at start-up; a command started from a shell would not.
_RESTORE_DEFAULT = tuple(
    sig for sig in (getattr(signal, "SIGPIPE", None), getattr(signal, "SIGXFSZ", None)) if sig
)
SI_KERNEL = 0x80  # si_code of a signal the kernel (a terminal) sent to a process group
TIMEOUT_STATUS = 124  # as coreutils ``timeout``
_READ_SIZE = 1 << 16
_FALLBACK_POLL_S = 0.05


class SpawnError(Exception):
    """The command could not be started; ``status`` is what a shell would return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Orphan(Record):
    """A descendant still running when the command exited."""

    __slots__ = ("cmdline", "comm", "pid")

    def __init__(self, pid: int, comm: str | None, cmdline: str | None) -> None:
        self.pid = pid
        self.comm = comm
        self.cmdline = cmdline

    def to_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "comm": self.comm, "cmdline": self.cmdline}


class ChildExit(Record):
    """The child's end, as the wrapper reports it."""

    __slots__ = ("child_status", "orphans", "signal", "status", "stopped")

    def __init__(
        self,
        status: int,  # the wrapper's exit status: code, or 128+N for signal N; 124 when stopped
        signal: int | None,  # N when a signal killed the child
        stopped: str | None = None,  # "timeout" | "idle_stall" when the wrapper stopped the tree
        child_status: int | None = None,  # the child's own status when ``stopped``
        orphans: tuple[Orphan, ...] = (),
    ) -> None:
        self.status = status
        self.signal = signal
        self.stopped = stopped
        self.child_status = child_status
        self.orphans = orphans


class Limits(Record):
    """When the wrapper stops the tree itself, and how."""

    __slots__ = ("idle_timeout", "kill_grace", "kill_orphans", "timeout")

    def __init__(
        self,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        kill_grace: float = 5.0,
        kill_orphans: bool = False,
    ) -> None:
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.kill_grace = kill_grace
        self.kill_orphans = kill_orphans

    def active(self) -> bool:
        return self.timeout is not None or self.idle_timeout is not None or self.kill_orphans


def decode_wait_status(wait_status: int) -> ChildExit:
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        return ChildExit(status=128 - code, signal=-code)
    return ChildExit(status=code, signal=None)


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15; ``SIG34`` for a number without a name."""
    import signal as named  # the enum: imported only when a name is needed

    try:
        return named.Signals(signum).name
    except ValueError:
        return f"SIG{signum}"


class _Stop:
    """The tree is being stopped: why, and when SIGKILL follows the SIGTERM."""

    __slots__ = ("kill_at", "killed", "reason")

    def __init__(self, reason: str, kill_at: float) -> None:
        self.reason = reason
        self.kill_at = kill_at
        self.killed = False


class _Hooks(Record):
    """The caller's callbacks for one wait."""

    __slots__ = ("on_output", "on_signal", "on_stop", "on_tick")

    def __init__(
        self,
        on_tick: Callable[[float], None],
        on_signal: Callable[[int, bool], None] | None,
        on_output: Callable[[bytes, float], None] | None,
        on_stop: Callable[[str, float], None] | None,
    ) -> None:
        self.on_tick = on_tick
        self.on_signal = on_signal
        self.on_output = on_output
        self.on_stop = on_stop


class Supervisor:
    """One child process: spawn, forward, wait, stop."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        limits: Limits | None = None,
        capture_stdout: bool = False,
        subreaper: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(os.environ) if env is None else env
        self.limits = limits or Limits()
        self.capture_stdout = capture_stdout
        self.subreaper = subreaper or self.limits.active()
        self.is_subreaper = False
        self.pid: int | None = None
        self._waited = frozenset((signal.SIGCHLD, *FORWARDED))
        self._old_mask: set[int] = set()
        self.can_wait_timed = hasattr(signal, "sigtimedwait")
        self._pipe: int | None = None
        self._ended: ChildExit | None = None
        self._stop: _Stop | None = None
        self._last_activity = 0.0
        self._idle_ticks: dict[tuple[int, int], int] | None = None
        self._orphans: tuple[Orphan, ...] = ()
        self.finder: TreeFinder | None = None  # one per run, shared with the sampler

    def spawn(self) -> int:
        """Start the command straight from argv, no shell; stdio inherited untouched.

        With ``capture_stdout`` the child's stdout is the write end of a pipe.
        """
        if self.subreaper and self.can_wait_timed:
            from autoskillit_trace.libc import become_subreaper

            self.is_subreaper = become_subreaper()
        if self.can_wait_timed:
            from autoskillit_trace.sampler import TreeFinder

            self.finder = TreeFinder.before_spawn(os.getpid())
            self._old_mask = set(signal.pthread_sigmask(signal.SIG_BLOCK, self._waited))
        actions: list[tuple[Any, ...]] = []
        write_end: int | None = None
        if self.capture_stdout and self.can_wait_timed:
            self._pipe, write_end = os.pipe2(os.O_CLOEXEC)
            actions.append((os.POSIX_SPAWN_DUP2, write_end, 1))
        try:
            self.pid = os.posix_spawnp(
                self.argv[0],
                self.argv,
                self.env,
                file_actions=actions or None,
                setsigmask=self._old_mask,
                setsigdef=_RESTORE_DEFAULT,
            )
        except OSError as exc:
            self._close_pipe()
            raise _spawn_error(self.argv[0], exc) from None
        except ValueError:  # an empty command name, as in ``run -- ''``
            self._close_pipe()
            raise SpawnError(127, f"{self.argv[0]!r}: command not found") from None
        finally:
            if write_end is not None:
                os.close(write_end)
        return self.pid

    def wait(
        self,
        interval: float | None,
        on_tick: Callable[[float], None],
        on_signal: Callable[[int, bool], None] | None = None,
        on_output: Callable[[bytes, float], None] | None = None,
        on_stop: Callable[[str, float], None] | None = None,
    ) -> ChildExit:
        """Tick every ``interval`` seconds (first at once) until the child exits.

        ``on_output(chunk, now)`` sees every chunk of a captured stdout after
        it was passed through; ``on_stop(reason, now)`` is told when a limit
        stops the tree.
        """
        if not self.can_wait_timed:
            return self._wait_portable()
        hooks = _Hooks(on_tick, on_signal, on_output, on_stop)
        start = time.monotonic()
        self._last_activity = start
        deadline = None if self.limits.timeout is None else start + self.limits.timeout
        idle_every = _idle_period(self.limits.idle_timeout)
        next_idle = None if idle_every is None else start + idle_every
        waiter = _PollWaiter(self._waited) if self._pipe is not None else None
        next_due = start
        try:
            while True:
                now = time.monotonic()
                if self._ended is not None and self._finished(now):
                    return self._result()
                if interval is not None and now >= next_due:
                    on_tick(now)
                    next_due += interval
                    if next_due <= now:  # a late tick (stopped, slow sample): don't burst
                        next_due = now + interval
                    continue
                if self._stop is None and self._ended is None:
                    if deadline is not None and now >= deadline:
                        self._begin_stop("timeout", now, hooks)
                        continue
                    if next_idle is not None and now >= next_idle:
                        next_idle = now + (idle_every or 1.0)
                        if self._idle_for(now) >= (self.limits.idle_timeout or 0):
                            self._begin_stop("idle_stall", now, hooks)
                            continue
                if self._stop is not None and not self._stop.killed and now >= self._stop.kill_at:
                    self._kill_tree(signal.SIGKILL)
                    self._stop.killed = True
                    continue
                wake = [next_due] if interval is not None else []
                if self._stop is None and self._ended is None:
                    wake += [t for t in (deadline, next_idle) if t is not None]
                if self._stop is not None:
                    wake.append(self._stop.kill_at + (1.0 if self._stop.killed else 0.0))
                timeout = max(0.0, min(wake) - now) if wake else None
                if waiter is None:
                    events = _sigwait(self._waited, timeout)
                else:
                    events = waiter.wait(self._pipe, timeout, lambda: self._read_pipe(hooks))
                for signo, code in events:
                    self._on_signal(signo, code, hooks)
        finally:
            if waiter is not None:
                waiter.close()
            self._close_pipe()
            if self.finder is not None:
                self.finder.close()

    # -- signals and exit --------------------------------------------------------

    def _on_signal(self, signo: int, code: int, hooks: _Hooks) -> None:
        if signo == signal.SIGCHLD:
            ended = self._reap()
            if ended is not None and self._ended is None:
                self._ended = ended
                self._drain_pipe(hooks)
                self._after_exit(time.monotonic())
            return
        forwarded = self._forward(signo, code) if self._ended is None else False
        if hooks.on_signal is not None:
            hooks.on_signal(signo, forwarded)

    def _after_exit(self, now: float) -> None:
        """The command is gone: note the orphans; stop them with ``--kill-orphans``.

        Without the subreaper they went to init and are out of reach: no scan.
        """
        if not self.is_subreaper:
            return
        self._orphans = tuple(_describe(pid) for pid in self._tree())
        if self._orphans and self.limits.kill_orphans and self._stop is None:
            self._stop = _Stop("orphans", now + self.limits.kill_grace)
            self._signal_all(self._tree(), signal.SIGTERM)

    def _finished(self, now: float) -> bool:
        """After the command's exit: done, or still stopping the rest of the tree."""
        if self._stop is None:
            return True
        if not self._tree():
            return True
        # After SIGKILL, give the kernel a moment to tear the tree down; never hang on it.
        return self._stop.killed and (not self.is_subreaper or now >= self._stop.kill_at + 1.0)

    def _result(self) -> ChildExit:
        ended = self._ended
        assert ended is not None
        stopped = self._stop.reason if self._stop and self._stop.reason != "orphans" else None
        if stopped is None:
            return ChildExit(ended.status, ended.signal, orphans=self._orphans)
        return ChildExit(
            TIMEOUT_STATUS,
            ended.signal,
            stopped=stopped,
            child_status=ended.status,
            orphans=self._orphans,
        )

    def _reap(self) -> ChildExit | None:
        """Reap every exited child; the command's status once it is among them."""
        ended: ChildExit | None = None
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return ended
            if pid == 0:
                return ended
            if pid == self.pid:
                ended = decode_wait_status(wait_status)

    def _forward(self, signum: int, si_code: int) -> bool:
        """Pass ``signum`` to the child, unless the terminal already sent it there.

        A Ctrl-C makes the kernel signal the whole foreground process group,
        which holds the child as well as the wrapper: forwarding that one
        again would deliver it twice.
        """
        assert self.pid is not None
        if si_code == SI_KERNEL and _same_process_group(self.pid):
            return False
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    # -- stopping the tree -------------------------------------------------------

    def _begin_stop(self, reason: str, now: float, hooks: _Hooks) -> None:
        self._stop = _Stop(reason, now + self.limits.kill_grace)
        if hooks.on_stop is not None:
            hooks.on_stop(reason, now)
        self._kill_tree(signal.SIGTERM)

    def _kill_tree(self, signum: int) -> None:
        pids = self._tree()
        if self._ended is None and self.pid is not None and self.pid not in pids:
            pids.insert(0, self.pid)
        self._signal_all(pids, signum)

    def _signal_all(self, pids: list[int], signum: int) -> None:
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    def _members(self) -> dict[int, Any]:
        """The wrapper's descendants; one finder for the run, so later scans are incremental."""
        if self.finder is None:
            from autoskillit_trace.sampler import TreeFinder

            self.finder = TreeFinder(os.getpid())
        members: dict[int, Any] = self.finder.members()
        return members

    def _tree(self) -> list[int]:
        """Live descendants of the wrapper (zombies left out: they only wait to be reaped)."""
        members = self._members()
        return [pid for pid, stat in members.items() if stat.state not in ("zombie", "dead")]

    def _idle_for(self, now: float) -> float:
        """Seconds since the tree last used CPU or (captured) printed anything."""
        members = self._members()
        ticks = {(pid, stat.start_ticks): stat.ticks for pid, stat in members.items()}
        if self._idle_ticks is None:
            self._idle_ticks = ticks
        elif ticks != self._idle_ticks:
            self._idle_ticks = ticks
            self._last_activity = max(self._last_activity, now)
        return now - self._last_activity

    # -- the stdout pipe -----------------------------------------------------------

    def _read_pipe(self, hooks: _Hooks) -> bool:
        """Pass one chunk through; False at end of file."""
        assert self._pipe is not None
        try:
            chunk = os.read(self._pipe, _READ_SIZE)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self._close_pipe()
            return False
        now = time.monotonic()
        self._last_activity = now
        if not _pass_through(chunk):
            self._close_pipe()  # our stdout is gone: the child gets EPIPE, as it would bare
            return False
        if hooks.on_output is not None:
            hooks.on_output(chunk, now)
        return True

    def _drain_pipe(self, hooks: _Hooks) -> None:
        """Everything the exited command wrote is in the pipe: read it without blocking."""
        if self._pipe is None:
            return
        os.set_blocking(self._pipe, False)
        for _ in range(64):  # a pipe holds at most 1 MiB; a leftover writer cannot keep us here
            if self._pipe is None or not _readable(self._pipe) or not self._read_pipe(hooks):
                break

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            with suppress(OSError):
                os.close(self._pipe)
            self._pipe = None

    def _wait_portable(self) -> ChildExit:
        """Platforms without sigtimedwait (macOS): forward with handlers, no sampling."""
        assert self.pid is not None
        pid = self.pid

        def forward(signum: int, _frame: object) -> None:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

        for sig in FORWARDED:
            signal.signal(sig, forward)
        _, wait_status = os.waitpid(pid, 0)
        return decode_wait_status(wait_status)


def _sigwait(waited: frozenset[int], timeout: float | None) -> list[tuple[int, int]]:
    info = signal.sigwaitinfo(waited) if timeout is None else signal.sigtimedwait(waited, timeout)
    return [] if info is None else [(info.si_signo, info.si_code)]


class _PollWaiter:
    """Waits on the stdout pipe and the blocked signals together (see the module doc)."""

    def __init__(self, waited: frozenset[int]) -> None:
        import select

        from autoskillit_trace import libc

        self._waited = waited
        self._poll = select.poll()
        self._registered: int | None = None
        self._sfd = libc.signalfd(waited)
        if self._sfd is not None:
            self._poll.register(self._sfd, select.POLLIN)

    def wait(
        self, pipe: int | None, timeout: float | None, read: Callable[[], bool]
    ) -> list[tuple[int, int]]:
        import select

        if pipe != self._registered:
            if self._registered is not None:
                with suppress(KeyError, ValueError):
                    self._poll.unregister(self._registered)
            if pipe is not None:
                self._poll.register(pipe, select.POLLIN | select.POLLHUP)
            self._registered = pipe
        if self._sfd is None and (timeout is None or timeout > _FALLBACK_POLL_S):
            timeout = _FALLBACK_POLL_S
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        ready = self._poll.poll(ms)
        events: list[tuple[int, int]] = []
        for fd, _mask in ready:
            if fd == self._sfd:
                events.extend(_read_signalfd(fd))
            elif fd == pipe and not read():
                self._poll.unregister(fd)
                self._registered = None
        if self._sfd is None:
            while True:
                info = signal.sigtimedwait(self._waited, 0)
                if info is None:
                    break
                events.append((info.si_signo, info.si_code))
        return events

    def close(self) -> None:
        if self._sfd is not None:
            with suppress(OSError):
                os.close(self._sfd)
            self._sfd = None


_SIGINFO_SIZE = 128  # struct signalfd_siginfo


def _read_signalfd(fd: int) -> list[tuple[int, int]]:
    import struct

    events: list[tuple[int, int]] = []
    while True:
        try:
            data = os.read(fd, _SIGINFO_SIZE * 16)
        except (BlockingIOError, InterruptedError):
            return events
        if not data:
            return events
        for offset in range(0, len(data) - _SIGINFO_SIZE + 1, _SIGINFO_SIZE):
            signo, _errno, code = struct.unpack_from("=Iii", data, offset)
            events.append((signo, code))


def _pass_through(chunk: bytes) -> bool:
    """Write ``chunk`` to our stdout whole; False when stdout is gone."""
    view = memoryview(chunk)
    while view:
        try:
            written = os.write(1, view)
        except BlockingIOError:
            import select

            select.select([], [1], [])
            continue
        except BrokenPipeError:
            return False
        except OSError:
            return False
        view = view[written:]
    return True


def _readable(fd: int) -> bool:
    import select

    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def _idle_period(idle_timeout: float | None) -> float | None:
    """How often to look for a stall: a quarter of the idle timeout, within [0.05 s, 5 s]."""
    if idle_timeout is None:
        return None
    return min(5.0, max(0.05, idle_timeout / 4))


def _describe(pid: int) -> Orphan:
    from autoskillit_trace.sampler import read_proc, read_stat

    stat = read_stat(pid)
    raw = read_proc(f"/proc/{pid}/cmdline")
    cmdline = None
    if raw:
        args = raw.rstrip(b"\0").split(b"\0")
        cmdline = " ".join(a.decode("utf-8", "backslashreplace") for a in args)
    return Orphan(pid, stat.comm if stat else None, cmdline)


def _same_process_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == os.getpgrp()
    except OSError:
        return False


def _spawn_error(name: str, exc: OSError) -> SpawnError:
    """127 for a command not found, 126 for one that cannot be executed, as in a shell."""
    command = _printable(name)
    if isinstance(exc, FileNotFoundError):
        if "/" in command:
            return SpawnError(127, f"{command}: No such file or directory")
        return SpawnError(127, f"{command}: command not found")
    return SpawnError(126, f"{command}: {exc.strerror or exc}")


def _printable(name: str) -> str:
    """``name`` for one line of text: bytes that are not UTF-8 and control characters
    as backslash escapes (``\\xff``, ``\\n``), not as the surrogates Python reads them as."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
