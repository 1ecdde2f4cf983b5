"""Spawn the command, pass signals on, and run the timer loop until it exits.

The loop is tini's, in three steps: wait (for a signal, the command's stdout
or the next due moment), forward and reap, and finally exit as the command
did.  Every catchable signal is blocked and read from a ``signalfd`` (see
``libc``) polled together with the stdout pipe of ``--agent-events``; the
poll's timeout is the time left until the next due moment (a snapshot, the
``--timeout`` deadline, an idle check, the end of a kill grace period).  So
the wrapper sleeps exactly until something is due and wakes at once when the
child exits or a signal arrives; there are no handlers, threads or asyncio.
(``sigtimedwait`` is not used: after a stop and continue that outlasts its
timeout, CPython returns an uninitialised ``siginfo`` from it.)  Each pass of
the loop reads the signals first, so no amount of due work can starve them.

Who gets a signal, once (see the README's guarantees):

- At a terminal's foreground, the command shares the wrapper's process
  group, so Ctrl-C, Ctrl-Z and ``fg`` reach it from the terminal itself;
  what the terminal sent the group (``si_code`` SI_KERNEL) is not sent again.
- Elsewhere (CI, cron, ``timeout``, a background job) the command gets a
  process group of its own, as dumb-init gives it: a signal to the wrapper's
  group reaches the command only through the wrapper, which passes it to the
  command's group.
- Never forwarded: a signal sent by the wrapper itself or by a process of
  the command's own tree (a script's ``kill 0``), or one the command already
  has pending.
- Job control: when the command is stopped by SIGTSTP, SIGTTIN or SIGTTOU,
  the wrapper stops itself, so that the shell sees the job stop; on SIGCONT
  it continues the command and, at the foreground, hands it the terminal.

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
from autoskillit_trace.totals import Totals, hiwater_kb

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

    from autoskillit_trace.pipe import OutputPipe
    from autoskillit_trace.proctree import TreeFinder
else:
    # The same functions and constants as ``signal``, without the enums that
    # signal.py builds at import: those pull in enum, functools and collections,
    # ~4 ms of CPU at every run.  Signal numbers are plain ints throughout.
    try:
        import _signal as signal
    except ImportError:  # another Python
        import signal

# What the portable loop (no signalfd, as on macOS) forwards with handlers.
PORTABLE_FORWARDED = (
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# Stops that the terminal's job control makes; the wrapper mirrors them.
JOB_CONTROL_STOPS = frozenset(
    getattr(signal, name) for name in ("SIGTSTP", "SIGTTIN", "SIGTTOU") if hasattr(signal, name)
)
# Python ignores these at start-up; a command started from a shell would not.
_RESTORE_DEFAULT = tuple(
    sig for sig in (getattr(signal, "SIGPIPE", None), getattr(signal, "SIGXFSZ", None)) if sig
)
SI_KERNEL = 0x80  # si_code of a signal the kernel (a terminal) sent to a process group
SI_USER = 0  # si_code of kill()
CLD_STOPPED = 5  # si_code of a SIGCHLD for a stopped child
TIMEOUT_STATUS = 124  # as coreutils ``timeout``
EXITS_KEPT = 4096  # orphans' statuses held between two snapshots (Supervisor.exits)
REPEAT_WINDOW_S = 0.1  # a signal repeated by its sender within this is one (see _repeated)
_SIGRTMIN = getattr(signal, "SIGRTMIN", 34)
_FALLBACK_POLL_S = 0.05
_LONGEST_POLL_S = 86400.0


def waited_signals() -> frozenset[int]:
    """Every signal the wrapper blocks and reads: all that can be caught.

    SIGKILL and SIGSTOP cannot be; the C library keeps 32 and 33 for itself
    (``valid_signals`` leaves them out).
    """
    valid = getattr(signal, "valid_signals", None)
    numbers = valid() if valid is not None else range(1, 32)
    return frozenset(int(s) for s in numbers) - {int(signal.SIGKILL), int(signal.SIGSTOP)}


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

    @property
    def death_signal(self) -> int | None:
        """The signal the wrapper must die of to end as the command did (None: exit)."""
        return self.signal if self.stopped is None else None


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


class Delivery(Record):
    """One signal as the wrapper read it: number, ``si_code``, sender, ``si_status``."""

    __slots__ = ("code", "sender", "signo", "status")

    def __init__(self, signo: int, code: int, sender: int = 0, status: int = 0) -> None:
        self.signo = signo
        self.code = code
        self.sender = sender
        self.status = status


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


def die_of(signum: int, status: int) -> NoReturn:
    """End the wrapper by ``signum``, as the command ended; exit ``status`` if that fails.

    As coreutils ``timeout`` does: a shell decides from how its child died
    (a loop stops on Ctrl-C, "Segmentation fault" is printed), so an exit
    status of 128+N is not the same.  Core dumps are turned off for the
    wrapper itself: the dump worth having is the command's.
    """
    with suppress(Exception):
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    with suppress(Exception):
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    os._exit(status)


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
        on_output: Callable[[bytes, float], bool | None] | None,
        on_stop: Callable[[str, float], None] | None,
    ) -> None:
        self.on_tick = on_tick
        self.on_signal = on_signal
        self.on_output = on_output
        self.on_stop = on_stop


class _Due:
    """The loop's deadlines: the next snapshot, the timeout, the next idle check."""

    __slots__ = ("deadline", "idle_every", "interval", "next_idle", "next_tick")

    def __init__(self, start: float, interval: float | None, limits: Limits) -> None:
        self.interval = interval
        self.next_tick = start if interval is not None else None
        self.deadline = None if limits.timeout is None else start + limits.timeout
        self.idle_every = _idle_period(limits.idle_timeout)
        self.next_idle = None if self.idle_every is None else start + self.idle_every

    def tick_due(self, now: float) -> bool:
        """True when a snapshot is due; schedules the next one, never in a burst."""
        if self.next_tick is None or self.interval is None or now < self.next_tick:
            return False
        self.next_tick += self.interval
        if self.next_tick <= now:  # a late tick (stopped, slow sample): don't catch up
            self.next_tick = now + self.interval
        return True

    def idle_check_due(self, now: float) -> bool:
        if self.next_idle is None or now < self.next_idle:
            return False
        self.next_idle = now + (self.idle_every or 1.0)
        return True


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
        # A closed stdout stays closed for the command: nothing to capture.
        self.capture_stdout = capture_stdout and _open_for_children(1)
        self.subreaper = subreaper or self.limits.active()
        self.is_subreaper = False
        self.pid: int | None = None
        self.own_group = False  # the command leads a process group of its own
        self._waited = waited_signals()
        self._old_mask: set[int] = set()
        self.can_wait_timed = hasattr(signal, "sigtimedwait")  # Linux; not macOS
        self._pipe: OutputPipe | None = None
        self._ended: ChildExit | None = None
        self._stop: _Stop | None = None
        self._last_activity = 0.0
        self._waiting = False  # the last output was no progress: the tree's CPU is none either
        self._idle_ticks: dict[tuple[int, int], int] | None = None
        self._orphans: tuple[Orphan, ...] = ()
        self._last_forward: tuple[tuple[int, int], float] | None = None
        self.finder: TreeFinder | None = None  # one per run, shared with the sampler
        self.usage = Totals()  # the kernel's rusage of every child reaped (totals.py)
        # pid -> status (as a shell shows it) of the other children reaped, the orphans,
        # for whoever set it to a dict and empties it; at most EXITS_KEPT are kept.
        self.exits: dict[int, int] | None = None

    def spawn(self) -> int:
        """Start the command straight from argv, no shell; stdio inherited untouched.

        With ``capture_stdout`` the child's stdout is the write end of a pipe
        (and so is its stderr when both are the same file, not a terminal, as
        with ``2>&1``: one pipe keeps their order).
        """
        if self.subreaper and self.can_wait_timed:
            from autoskillit_trace.libc import become_subreaper

            self.is_subreaper = become_subreaper()
        if self.can_wait_timed:
            from autoskillit_trace.proctree import TreeFinder

            self.finder = TreeFinder.before_spawn(os.getpid())
            self._old_mask = set(signal.pthread_sigmask(signal.SIG_BLOCK, self._waited))
            self.own_group = _foreground_terminal() is None
        actions: list[tuple[Any, ...]] = []
        if self.capture_stdout and self.can_wait_timed:
            from autoskillit_trace.pipe import OutputPipe

            self._pipe = OutputPipe()
            actions = self._pipe.spawn_actions(stderr_too=_same_file(1, 2) and not os.isatty(2))
        group: dict[str, Any] = {"setpgroup": 0} if self.own_group else {}
        self.usage.floor_kb = _own_peak_rss_kb()
        try:
            self.pid = os.posix_spawnp(
                self.argv[0],
                self.argv,
                self.env,
                file_actions=actions or None,
                setsigmask=self._old_mask,
                setsigdef=_RESTORE_DEFAULT,
                **group,
            )
        except OSError as exc:
            self._close_pipe()
            raise _spawn_error(self.argv[0], exc) from None
        except ValueError:  # an empty command name, as in ``run -- ''``
            self._close_pipe()
            raise SpawnError(127, f"{_printable(self.argv[0])!r}: command not found") from None
        finally:
            if self._pipe is not None:
                self._pipe.spawned()
        return self.pid

    def wait(
        self,
        interval: float | None,
        on_tick: Callable[[float], None],
        on_signal: Callable[[int, bool], None] | None = None,
        on_output: Callable[[bytes, float], bool | None] | None = None,
        on_stop: Callable[[str, float], None] | None = None,
    ) -> ChildExit:
        """Tick every ``interval`` seconds (first at once) until the child exits.

        ``on_output(chunk, now)`` sees every chunk of a captured stdout after
        it was passed through, and returns False when the chunk is no
        progress for the idle check (an agent only saying it retries);
        ``on_stop(reason, now)`` is told when a limit stops the tree.
        """
        if not self.can_wait_timed:
            return self._wait_portable()
        hooks = _Hooks(on_tick, on_signal, on_output, on_stop)
        start = time.monotonic()
        self._last_activity = start
        due = _Due(start, interval, self.limits)
        waiter = _Waiter(self._waited)

        def read_pipe() -> bool:
            return self._read_pipe(hooks)

        try:
            while True:
                # 1. wait: for a signal, the pipe, or the next due moment
                timeout = self._until_due(due, time.monotonic())
                pipe = self._pipe.fd if self._pipe is not None else None
                deliveries = waiter.wait(pipe, timeout, read_pipe)
                # 2. forward and reap
                for delivery in deliveries:
                    self._on_signal(delivery, hooks)
                # 3. exit once the command has, and what remains of the tree is stopped
                now = time.monotonic()
                if self._ended is not None and self._finished(now):
                    self._reap()  # zombies whose SIGCHLD is still unread: their rusage counts
                    return self._result()
                self._do_due(due, now, hooks)
        finally:
            waiter.close()
            self._close_pipe()
            if self.finder is not None:
                self.finder.close()

    def _until_due(self, due: _Due, now: float) -> float | None:
        """Seconds until something is due; None: only a signal or the pipe can wake us."""
        wake = [due.next_tick] if due.next_tick is not None else []
        if self._stop is None and self._ended is None:
            wake += [t for t in (due.deadline, due.next_idle) if t is not None]
        if self._stop is not None:
            wake.append(self._stop.kill_at + (1.0 if self._stop.killed else 0.0))
        return max(0.0, min(wake) - now) if wake else None

    def _do_due(self, due: _Due, now: float, hooks: _Hooks) -> None:
        """One snapshot if due, then the limits; each at most once per pass of the loop."""
        if due.tick_due(now):
            hooks.on_tick(now)
            now = time.monotonic()
        if self._stop is None and self._ended is None:
            if due.deadline is not None and now >= due.deadline:
                self._begin_stop("timeout", now, hooks)
            elif due.idle_check_due(now) and self._idle_for(now) >= (self.limits.idle_timeout or 0):
                self._begin_stop("idle_stall", now, hooks)
        elif self._stop is not None and not self._stop.killed and now >= self._stop.kill_at:
            self._kill_tree(signal.SIGKILL)
            self._stop.killed = True

    # -- signals and exit --------------------------------------------------------

    def _on_signal(self, delivery: Delivery, hooks: _Hooks) -> None:
        signo = delivery.signo
        if signo == signal.SIGCHLD:
            self._on_child(delivery, hooks)
            return
        forwarded = self._forward(delivery) if self._ended is None else False
        if hooks.on_signal is not None:
            hooks.on_signal(signo, forwarded)

    def _on_child(self, delivery: Delivery, hooks: _Hooks) -> None:
        """Reap; when the command was stopped by job control, stop with it."""
        ended = self._reap()
        if ended is not None and self._ended is None:
            self._ended = ended
            self._drain_pipe(hooks)
            self._after_exit(time.monotonic())
            return
        if (
            self._ended is None
            and delivery.code == CLD_STOPPED
            and delivery.sender == self.pid
            and delivery.status in JOB_CONTROL_STOPS
            and _stopped(self.pid)
        ):
            os.kill(os.getpid(), signal.SIGSTOP)  # continued by the SIGCONT read next

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
        """Reap every exited child (its rusage added up); the command's status once among them."""
        ended: ChildExit | None = None
        while True:
            try:
                pid, wait_status, usage = os.wait3(os.WNOHANG)
            except ChildProcessError:
                return ended
            if pid == 0:
                return ended
            self.usage.add(usage)
            if pid == self.pid:
                ended = decode_wait_status(wait_status)
            elif self.exits is not None and len(self.exits) < EXITS_KEPT:
                self.exits[pid] = decode_wait_status(wait_status).status

    def _forward(self, delivery: Delivery) -> bool:
        """Pass a signal on to the command, unless it has it already (see the module doc)."""
        assert self.pid is not None
        signo = delivery.signo
        if delivery.code == SI_KERNEL and not self.own_group:
            return False  # the terminal signalled the group the command shares with us
        if delivery.code == SI_USER and self._from_inside(delivery.sender):
            return False
        if signo == signal.SIGCONT:
            self._take_the_terminal()
            if not _stopped(self.pid):
                return False  # running: continuing it again would change nothing
        elif _pending(self.pid, signo) or self._repeated(delivery):
            return False
        try:
            if self.own_group:
                os.killpg(self.pid, signo)
            else:
                os.kill(self.pid, signo)
        except ProcessLookupError:  # the group is gone (its leader left it): the command alone
            with suppress(ProcessLookupError):
                os.kill(self.pid, signo)
                return True
            return False
        return True

    def _repeated(self, delivery: Delivery) -> bool:
        """The second half of one group kill: the same standard signal, same sender, just now.

        coreutils ``timeout`` signals its child, then its whole group: two
        kills a few microseconds apart, which reach a bare command as one
        when it has not run in between.  Real-time signals queue, so they
        are never taken for repeats.
        """
        now = time.monotonic()
        key = (delivery.signo, delivery.sender)
        last, self._last_forward = self._last_forward, (key, now)
        return (
            delivery.signo < _SIGRTMIN and last is not None and last[0] == key
            and now - last[1] < REPEAT_WINDOW_S
        )  # fmt: skip

    def _from_inside(self, sender: int) -> bool:
        """Was the signal sent by the wrapper or by a process of the command's tree?"""
        me = os.getpid()
        pid = sender
        for _ in range(64):  # a parent chain is short; a loop of reused pids cannot hold us
            if pid == me:
                return True
            if pid <= 1:
                return False
            from autoskillit_trace.proctree import read_stat

            stat = read_stat(pid)
            if stat is None:
                return False
            pid = stat.ppid
        return False

    def _take_the_terminal(self) -> None:
        """Continued at the terminal's foreground (``fg``): give it to the command's group."""
        if not self.own_group or self.pid is None:
            return
        fd = _foreground_terminal()
        if fd is not None:
            with suppress(OSError):
                os.tcsetpgrp(fd, self.pid)

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
            from autoskillit_trace.proctree import TreeFinder

            self.finder = TreeFinder(os.getpid())
        members: dict[int, Any] = self.finder.members()
        return members

    def _tree(self) -> list[int]:
        """Live descendants of the wrapper (zombies left out: they only wait to be reaped)."""
        members = self._members()
        return [pid for pid, stat in members.items() if stat.state not in ("zombie", "dead")]

    def _idle_for(self, now: float) -> float:
        """Seconds since the tree last used CPU or (captured) printed anything.

        While its last output was no progress (an agent retrying its API),
        the CPU it uses to retry is none either.
        """
        members = self._members()
        ticks = {(pid, stat.start_ticks): stat.ticks for pid, stat in members.items()}
        if self._idle_ticks is None:
            self._idle_ticks = ticks
        elif ticks != self._idle_ticks:
            self._idle_ticks = ticks
            if not self._waiting:
                self._last_activity = max(self._last_activity, now)
        return now - self._last_activity

    # -- the stdout pipe -----------------------------------------------------------

    def _read_pipe(self, hooks: _Hooks) -> bool:
        """Relay one chunk, then show it to ``on_output``; False once the pipe is done."""
        chunk = self._pipe.relay() if self._pipe is not None else None
        if chunk:
            self._seen_output(chunk, hooks)
        return chunk is not None

    def _drain_pipe(self, hooks: _Hooks) -> None:
        """Everything the exited command wrote is in the pipe: relay it without blocking."""
        if self._pipe is not None:
            for chunk in self._pipe.drain():
                self._seen_output(chunk, hooks)

    def _seen_output(self, chunk: bytes, hooks: _Hooks) -> None:
        now = time.monotonic()
        progress = hooks.on_output(chunk, now) if hooks.on_output is not None else None
        self._waiting = progress is False
        if not self._waiting:
            self._last_activity = now

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            self._pipe.close()

    def _wait_portable(self) -> ChildExit:
        """Platforms without sigmasks (macOS): forward with handlers, no sampling."""
        assert self.pid is not None
        pid = self.pid

        def forward(signum: int, _frame: object) -> None:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

        for sig in PORTABLE_FORWARDED:
            signal.signal(sig, forward)
        _, wait_status = os.waitpid(pid, 0)
        return decode_wait_status(wait_status)


class _Waiter:
    """Waits on the blocked signals (a signalfd) and the stdout pipe together.

    Where signalfd is missing, it polls with a 50 ms bound and drains the
    signals with ``sigtimedwait(..., 0)``, which has no timeout to outlast.
    """

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
    ) -> list[Delivery]:
        if pipe != self._registered:
            import select

            if self._registered is not None:
                with suppress(KeyError, ValueError):
                    self._poll.unregister(self._registered)
            if pipe is not None:
                self._poll.register(pipe, select.POLLIN | select.POLLHUP)
            self._registered = pipe
        if self._sfd is None and (timeout is None or timeout > _FALLBACK_POLL_S):
            timeout = _FALLBACK_POLL_S
        elif timeout is not None and timeout > _LONGEST_POLL_S:
            timeout = _LONGEST_POLL_S  # poll takes a C int of ms; wake up and look again
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        ready = self._poll.poll(ms)
        deliveries: list[Delivery] = []
        for fd, _mask in ready:
            if fd == self._sfd:
                deliveries.extend(_read_signalfd(fd))
            elif fd == pipe and not read():
                self._poll.unregister(fd)
                self._registered = None
        if self._sfd is None:
            while True:
                info = signal.sigtimedwait(self._waited, 0)
                if info is None or info.si_signo not in self._waited:
                    break
                deliveries.append(
                    Delivery(info.si_signo, info.si_code, info.si_pid, info.si_status)
                )
        return deliveries

    def close(self) -> None:
        if self._sfd is not None:
            with suppress(OSError):
                os.close(self._sfd)
            self._sfd = None


_SIGINFO_SIZE = 128  # struct signalfd_siginfo: 32 native 32-bit words
# Words 0, 2, 3 and 10: ssi_signo, ssi_code, ssi_pid, ssi_status.


def _read_signalfd(fd: int) -> list[Delivery]:
    deliveries: list[Delivery] = []
    while True:
        try:
            data = os.read(fd, _SIGINFO_SIZE * 16)
        except (BlockingIOError, InterruptedError):
            return deliveries
        if not data:
            return deliveries
        words = memoryview(data).cast("i")  # no struct import on the run path
        for at in range(0, len(data) // _SIGINFO_SIZE * 32, 32):
            deliveries.append(Delivery(words[at], words[at + 2], words[at + 3], words[at + 10]))


def _idle_period(idle_timeout: float | None) -> float | None:
    """How often to look for a stall: a quarter of the idle timeout, within [0.05 s, 5 s]."""
    if idle_timeout is None:
        return None
    return min(5.0, max(0.05, idle_timeout / 4))


def _describe(pid: int) -> Orphan:
    from autoskillit_trace.proctree import read_argv, read_stat

    stat = read_stat(pid)
    args = read_argv(pid)
    cmdline = None
    if args:
        cmdline = " ".join(a.decode("utf-8", "backslashreplace") for a in args)
    return Orphan(pid, stat.comm if stat else None, cmdline)


def _own_peak_rss_kb() -> int | None:
    """The wrapper's peak RSS now: the floor of the command's maxrss (see totals.py)."""
    from autoskillit_trace.proctree import read_proc

    data = read_proc("/proc/self/status")
    return hiwater_kb(data) if data else None


def _stopped(pid: int | None) -> bool:
    """Is ``pid`` stopped (job control or SIGSTOP) now?"""
    from autoskillit_trace.proctree import read_stat

    stat = read_stat(pid) if pid else None
    return stat is not None and stat.state == "stopped"


def _pending(pid: int, signo: int) -> bool:
    """Is ``signo`` pending for ``pid``, for its main thread or the whole process?"""
    from autoskillit_trace.proctree import read_proc
    from autoskillit_trace.sampler import parse_status

    data = read_proc(f"/proc/{pid}/status")
    pending = parse_status(data)["sig_pnd"] if data else None
    try:
        return bool(pending and int(pending, 16) & (1 << (signo - 1)))
    except ValueError:
        return False


def _foreground_terminal() -> int | None:
    """A descriptor of our controlling terminal while our group is its foreground."""
    group = os.getpgrp()
    for fd in (0, 1, 2):
        with suppress(OSError):
            if os.isatty(fd) and os.tcgetpgrp(fd) == group:
                return fd
    return None


def _open_for_children(fd: int) -> bool:
    """Is ``fd`` a standard stream the command inherits (not one the wrapper holds closed)?"""
    try:
        return os.get_inheritable(fd)
    except OSError:
        return False


def _same_file(a: int, b: int) -> bool:
    try:
        first, second = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


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
