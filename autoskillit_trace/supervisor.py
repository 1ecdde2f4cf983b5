"""Spawn the command, forward signals, and run the timer loop until it exits.

The loop is the whole design: the wrapper blocks the signals it cares about
and waits for them with ``sigtimedwait``, whose timeout is the time left until
the next snapshot.  It therefore sleeps exactly until a sample is due, and
wakes at once when the child exits (SIGCHLD) or a signal arrives; there are no
handlers, threads or asyncio, and no signal can interrupt the recording of
the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


class SpawnError(Exception):
    """The command could not be started; ``status`` is what a shell would return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChildExit:
    """The child's end, as the wrapper reports it."""

    status: int  # the wrapper's exit status: exit code, or 128+N for signal N
    signal: int | None  # N when a signal killed the child


def decode_wait_status(wait_status: int) -> ChildExit:
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        return ChildExit(status=128 - code, signal=-code)
    return ChildExit(status=code, signal=None)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIG{signum}"


class Supervisor:
    """One child process: spawn, forward, wait."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.env = dict(os.environ) if env is None else env
        self.pid: int | None = None
        self._waited = frozenset((signal.SIGCHLD, *FORWARDED))
        self._old_mask: set[int] = set()
        self.can_wait_timed = hasattr(signal, "sigtimedwait")

    def spawn(self) -> int:
        """Start the command straight from argv, no shell; stdio inherited untouched."""
        if self.can_wait_timed:
            self._old_mask = set(signal.pthread_sigmask(signal.SIG_BLOCK, self._waited))
        try:
            self.pid = os.posix_spawnp(
                self.argv[0],
                self.argv,
                self.env,
                setsigmask=self._old_mask,
                setsigdef=_RESTORE_DEFAULT,
            )
        except OSError as exc:
            raise _spawn_error(self.argv[0], exc) from None
        except ValueError:  # an empty command name, as in ``run -- ''``
            raise SpawnError(127, f"{self.argv[0]!r}: command not found") from None
        return self.pid

    def wait(
        self,
        interval: float | None,
        on_tick: Callable[[float], None],
        on_signal: Callable[[int, bool], None] | None = None,
    ) -> ChildExit:
        """Tick every ``interval`` seconds (first at once) until the child exits."""
        if not self.can_wait_timed:
            return self._wait_portable()
        next_due = time.monotonic()
        while True:
            now = time.monotonic()
            if interval is not None and now >= next_due:
                # A command that has already exited would be sampled as a zombie.
                ended = self._reap() if self._has_exited() else None
                if ended is not None:
                    return ended
                on_tick(now)
                next_due += interval
                if next_due <= now:  # a late tick (stopped, slow sample): don't burst
                    next_due = now + interval
                continue
            timeout = None if interval is None else next_due - now
            info = (
                signal.sigwaitinfo(self._waited)
                if timeout is None
                else signal.sigtimedwait(self._waited, timeout)
            )
            if info is None:
                continue
            if info.si_signo == signal.SIGCHLD:
                ended = self._reap()
                if ended is not None:
                    return ended
            else:
                forwarded = self._forward(info.si_signo, info.si_code)
                if on_signal is not None:
                    on_signal(info.si_signo, forwarded)

    def _has_exited(self) -> bool:
        """True once the command has ended, without reaping it."""
        assert self.pid is not None
        try:
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            return os.waitid(os.P_PID, self.pid, flags) is not None
        except ChildProcessError:
            return False

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

    def _wait_portable(self) -> ChildExit:
        """Platforms without sigtimedwait (macOS): forward with handlers, no sampling."""
        assert self.pid is not None
        pid = self.pid

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

        for sig in FORWARDED:
            signal.signal(sig, forward)
        _, wait_status = os.waitpid(pid, 0)
        return decode_wait_status(wait_status)


def _same_process_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == os.getpgrp()
    except OSError:
        return False


def _spawn_error(command: str, exc: OSError) -> SpawnError:
    """127 for a command not found, 126 for one that cannot be executed, as in a shell."""
    if isinstance(exc, FileNotFoundError):
        if "/" in command:
            return SpawnError(127, f"{command}: No such file or directory")
        return SpawnError(127, f"{command}: command not found")
    return SpawnError(126, f"{command}: {exc.strerror or exc}")
