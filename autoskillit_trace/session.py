"""One traced run: settings -> store -> supervisor -> sampler -> detectors -> summary.

The command comes first: every tracing step catches its own faults, reports
the first one as a single warning, and lets the command go on untouched.
"""

from __future__ import annotations

import os
import sys
import time

from autoskillit_trace import __version__
from autoskillit_trace.config import Resolved, log_root
from autoskillit_trace.events import ENV_EVENTS, ENV_SESSION_DIR, ERROR, INFO, WARNING, EventLog
from autoskillit_trace.faults import Faults
from autoskillit_trace.fold import Fold
from autoskillit_trace.log import Logger
from autoskillit_trace.runopts import RunArgs
from autoskillit_trace.store.layout import StoreError
from autoskillit_trace.store.root import LogRoot
from autoskillit_trace.store.writer import SessionWriter
from autoskillit_trace.summary import Outcome
from autoskillit_trace.supervisor import ChildExit, Limits, SpawnError, Supervisor, signal_name
from autoskillit_trace.timeutil import CaptureClock, compact_utc, iso_utc
from autoskillit_trace.totals import log_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from autoskillit_trace.accounting import Accounting
    from autoskillit_trace.agents import Event, LineSplitter, StreamFormat
    from autoskillit_trace.export_targets import Target
    from autoskillit_trace.proctree import TreeFinder
    from autoskillit_trace.redact import Redactor
    from autoskillit_trace.toolcalls import ToolCalls

CMDLINES_KEPT = 64  # distinct argument lists whose recorded command lines are kept


def run(args: RunArgs, resolved: Resolved, log: Logger, env: dict[str, str]) -> ChildExit:
    """Run ``args.argv`` to its end; how it ended is how the wrapper must end."""
    settings = resolved.settings
    limits = limits_of(args)
    if not settings.enabled or not sys.platform.startswith("linux"):
        return _run_untraced(Supervisor(args.argv, env, limits=limits), log)
    faults = Faults(lambda message: log.warning("tracing fault", problem=message))
    traced = TracedSession(args, resolved, log, faults)
    traced.env = env
    if not traced.open(log_root(settings, env)):
        return _run_untraced(Supervisor(args.argv, env, limits=limits), log)
    supervisor = Supervisor(
        args.argv,
        {**env, **traced.exported_env()},
        limits=limits,
        capture_stdout=settings.agent_events,
        subreaper=True,
    )
    traced.announce()  # before the spawn: nothing of ours lands inside the command's screen
    try:
        pid = supervisor.spawn()
    except SpawnError as exc:
        _print_error(str(exc))
        traced.start(pid=None)
        reason = traced.redactor.text(f"spawn_failed: {exc}")
        traced.finish(Outcome(exc.status, "spawn_failed", reason))
        return ChildExit(exc.status, None)
    traced.start(pid, supervisor.finder)
    supervisor.exits = traced.exits
    held = log.hold() if _stderr_is_a_terminal() else False
    try:
        ended = supervisor.wait(
            settings.proc_interval,
            guarded(traced.tick, faults, "cannot take a snapshot"),
            guarded(traced.on_signal, faults, "cannot record a signal"),
            traced.on_output if supervisor.capture_stdout else None,
            guarded(traced.on_stop, faults, "cannot record a limit"),
        )
    finally:
        if held:
            log.release()
    try:
        # The loop has returned: every child the wrapper will reap is reaped.
        traced.finish(traced.outcome(ended).replace(totals=supervisor.usage.fields()))
    except Exception as exc:  # a bug in recording must not change how the wrapper ends
        faults.report("cannot finish the session", repr(exc))
    return ended


def only_retries(events: list[Event]) -> bool:
    """A line whose events all say the agent retries its API: it is waiting, not working."""
    return bool(events) and all(event.event == "retry" for event in events)


def with_exit_statuses(lines: list[dict[str, Any]], exits: dict[int, int]) -> list[dict[str, Any]]:
    """Process lines with the status of each orphan the wrapper reaped; ``exits`` emptied.

    A line leaves the ledger at the snapshot after the process did, so every
    status reaped since the last snapshot belongs to a line written now, or
    to a process no snapshot saw.
    """
    if exits:
        for line in lines:
            if line.get("exit_status") is None:
                line["exit_status"] = exits.get(line["pid"])
        exits.clear()
    return lines


def guarded(hook: Callable[..., None], faults: Faults, what: str) -> Callable[..., None]:
    """``hook``, turned off at its first exception: a bug in tracing never reaches the command."""
    broken: list[bool] = []

    def call(*args: Any) -> None:
        if broken:
            return
        try:
            hook(*args)
        except Exception as exc:
            broken.append(True)
            faults.report(what, repr(exc))

    return call


def _stderr_is_a_terminal() -> bool:
    try:
        return os.isatty(2)
    except OSError:
        return False


def limits_of(args: RunArgs) -> Limits:
    """The run's limits; a duration of 0 disables a timeout, as in coreutils ``timeout``."""
    return Limits(
        timeout=args.timeout or None,
        idle_timeout=args.idle_timeout or None,
        kill_grace=args.kill_grace,
        kill_orphans=args.kill_orphans,
    )


def _run_untraced(supervisor: Supervisor, log: Logger) -> ChildExit:
    if supervisor.limits.active() and not supervisor.can_wait_timed:
        log.warning(
            "limits not applied",
            reason="--timeout, --idle-timeout and --kill-orphans need Linux",
        )
    try:
        supervisor.spawn()
    except SpawnError as exc:
        _print_error(str(exc))
        return ChildExit(exc.status, None)
    return supervisor.wait(None, lambda _now: None)


def _print_error(message: str) -> None:
    try:
        sys.stderr.write(f"autoskillit-trace: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed, full, or None (2>&-)
        pass


class TracedSession:
    """The recording side of a run: folder, trace, detection, summary, index."""

    def __init__(self, args: RunArgs, resolved: Resolved, log: Logger, faults: Faults) -> None:
        self.args = args
        self.settings = resolved.settings
        self.log = log
        self.faults = faults
        self._redactor: Redactor | None = None
        self.clock = CaptureClock()
        self.start_mono = time.monotonic()
        self.start_micros = time.time_ns() // 1000
        self.root: LogRoot | None = None
        self.writer: SessionWriter | None = None
        self.header: dict[str, Any] = {}
        self.fold = Fold()
        self.seq = 0
        self.sampler: Any = None
        self.proc_fault_told = False
        self.events: EventLog | None = None
        self.parser: StreamFormat | None = None
        self.splitter: LineSplitter | None = None
        self.retrying = False  # the agent's last line only said it retries its API
        self.env: Mapping[str, str] = {}  # the wrapper's: some exports are asked for there
        self.slot: tuple[int, int] | None = None  # (slot number, the fd that holds it)
        self.targets: tuple[Target, ...] = ()  # the export targets wanted, known at open
        self.job_history: list[dict[str, Any]] | None = None  # the job's past runs, newest first
        self.accounting: Accounting | None = None  # per-process lines, from the first snapshot
        self._cmdlines: dict[tuple[bytes, ...], str] = {}  # arguments -> as recorded
        self.tools: ToolCalls | None = None  # with --agent-events: the calls' processes
        self.exit_status: int | None = None  # the command's, as a shell shows it ($?)
        self.exits: dict[int, int] = {}  # orphans the supervisor reaped since the last snapshot

    @property
    def redactor(self) -> Redactor:
        """Compiled on first use, once the command is already running."""
        if self._redactor is None:
            from autoskillit_trace.redact import Redactor

            self._redactor = Redactor(self.settings.redact_patterns)
        return self._redactor

    def open(self, root_path: str) -> bool:
        """Create the session folder and its locked trace; False: run untraced."""
        root = LogRoot(root_path)
        base = self.args.session_id or f"pid-{os.getpid()}-{compact_utc(self.start_micros)}"
        try:
            root.ensure()
            folder = root.create_session_dir(base)
        except StoreError as exc:
            self.faults.report("tracing disabled", str(exc))
            return False
        self.root = root
        self.targets = self._export_targets()
        self.slot = self._acquire_slot(root)
        self.writer = SessionWriter(folder, self.faults)
        self.writer.open_trace()
        self.events = EventLog(folder, self.faults, self.clock)
        if self.settings.agent_events:
            self.open_stream()
        return True

    def open_stream(self) -> None:
        """The parser of the agent's stream, in the format the settings choose."""
        from autoskillit_trace.agents import LineSplitter, open_stream

        try:
            self.parser = open_stream(self.settings.agent_format, self.args.argv)
        except Exception as exc:  # the command runs all the same, its stream unread
            self.faults.report("cannot read the agent's stream", repr(exc))
            return
        self.splitter = LineSplitter(self.parser.needle)
        from autoskillit_trace.toolcalls import ToolCalls

        self.tools = ToolCalls()

    def exported_env(self) -> dict[str, str]:
        """Where supervised processes find the event log and the session folder."""
        assert self.events is not None and self.writer is not None
        return {ENV_EVENTS: self.events.path, ENV_SESSION_DIR: self.writer.folder}

    def emit(self, level: str, event: str, **fields: Any) -> None:
        if self.events is not None:
            self.events.write(level, event, fields)

    def announce(self) -> None:
        """Build the start record and log the start line, before the command is spawned."""
        from autoskillit_trace.proctree import process_start_ticks, read_boot_id
        from autoskillit_trace.redact import command_line

        assert self.writer is not None
        folder = self.writer.folder
        dir_name = os.path.basename(folder)
        try:
            cwd: str | None = self.redactor.text(
                os.fsencode(os.getcwd()).decode("utf-8", "backslashreplace")
            )
        except OSError:
            cwd = None
        self.header = {
            "ts": iso_utc(self.start_micros),
            "event": "session_start",
            "schema_version": 1,
            "session_id": self.args.session_id or dir_name,
            "dir_name": dir_name,
            "pid": None,
            "wrapper_pid": os.getpid(),
            "wrapper_start_ticks": process_start_ticks(os.getpid()),
            "boot_id": read_boot_id(),
            "hostname": os.uname().nodename,
            "cwd": cwd,
            "skill_command": command_line(self.args.argv, self.redactor),
            "start_ts": iso_utc(self.start_micros),
            "snapshot_interval_seconds": self.settings.proc_interval,
            "agent_events": bool(self.settings.agent_events),  # recovery counts its lines
            "tracer_version": __version__,
        }
        if self.settings.job:  # else derived from the command line while the command runs
            self.header["job"] = self.settings.job
        self.log.info(
            "session started",
            session_id=self.header["session_id"],
            command=self.header["skill_command"],
            folder=folder,
        )

    def start(self, pid: int | None, finder: TreeFinder | None = None) -> None:
        """Write the start record; ``finder`` is the run's tree finder."""
        assert self.writer is not None
        if not self.header:
            self.announce()
        self.header["pid"] = pid
        self.fold.command_line = self.header["skill_command"]
        self.writer.append_trace(self.header)
        self.emit(
            INFO,
            "session_start",
            session_id=self.header["session_id"],
            dir_name=self.header["dir_name"],
            pid=pid,
            command=self.header["skill_command"],
        )
        if pid is not None:
            from autoskillit_trace.sampler import Sampler

            self.sampler = Sampler(pid, finder)
            self.accounting = self._accounting(pid)

    def tick(self, now: float) -> None:
        """Take one snapshot, stream it, run detection; housekeeping after the first."""
        assert self.writer is not None
        _, ts = self.clock.now()
        snapshot: dict[str, Any] = {
            "ts": ts,
            "seq": self.seq,
            "event": "snapshot",
            "pid": self.sampler.child,
            "elapsed_s": round(now - self.start_mono, 6),
        }
        snapshot.update(self.sampler.sample(now))
        if snapshot["state"] == "zombie":
            # Our own child is a zombie only between its exit and our reaping it,
            # which the supervisor does next: nothing to record (it would read as
            # a zombie_detected of the command, and its files as unreadable).
            return
        if self.sampler.unreadable is not None and not self.proc_fault_told:
            self.proc_fault_told = True
            self.faults.report("some values are recorded as null", self.sampler.unreadable)
        self.account(snapshot)
        self.writer.append_trace(snapshot)
        for anomaly in self.fold.feed(snapshot):
            self.record_anomaly(anomaly.to_record())
        if self.seq == 0:
            self.housekeeping()
        self.seq += 1

    def record_anomaly(self, record: dict[str, Any]) -> None:
        """An anomaly's line in anomalies.jsonl, its event line and its warning (kind,
        severity, pid, seq, detail): the live detectors' and the job comparison's alike."""
        assert self.writer is not None
        self.writer.append_anomaly(record)
        fields = {key: record[key] for key in ("kind", "severity", "pid", "seq", "detail")}
        level = ERROR if fields["severity"] == "critical" else WARNING
        self.emit(level, "anomaly", **fields)
        self.log.warning("anomaly detected", **fields)

    def _accounting(self, pid: int) -> Accounting:
        """The per-process ledger of the tree below the command ``pid``."""
        from autoskillit_trace.accounting import Accounting
        from autoskillit_trace.proctree import CLK_TCK

        return Accounting(pid, self._cmdline_of, CLK_TCK, self.header["skill_command"])

    def _cmdline_of(self, pid: int) -> str | None:
        """The command line of ``pid``, recorded as every command line is (redacted)."""
        from autoskillit_trace.proctree import read_argv
        from autoskillit_trace.redact import command_line

        args = read_argv(pid)
        if not args:
            return None  # a zombie, a kernel thread, or gone
        # Forks share their parent's arguments (a pool's workers, a shell's subshells):
        # the same arguments are redacted once.  A few kept: memory stays flat.
        key = tuple(args)
        recorded = self._cmdlines.get(key)
        if recorded is None:
            if len(self._cmdlines) >= CMDLINES_KEPT:
                self._cmdlines.clear()
            recorded = command_line([os.fsdecode(arg) for arg in args], self.redactor)
            self._cmdlines[key] = recorded
        return recorded

    def account(self, snapshot: dict[str, Any]) -> None:
        """Fold the snapshot's processes into the ledger; write the lines of those that left.

        Its own fault is reported and turns accounting off: snapshots go on.
        """
        accounting = self.accounting
        if accounting is None or self.writer is None:
            self.exits.clear()
            return
        try:
            calls = tuple(getattr(self.parser, "open_calls", None) or ())
            gone = accounting.update(self.sampler.members, snapshot["elapsed_s"], calls)
            for line in with_exit_statuses(gone, self.exits):
                self.writer.append_process(line)
            if calls and self.tools is not None:
                self.tools.observe(calls, accounting.started, snapshot.get("tree_rss_kb"))
            zombies = snapshot.get("zombie_pids")
            if zombies:
                snapshot["zombie_cmdlines"] = [accounting.cmdline(pid) for pid in zombies]
        except Exception as exc:  # a bug here must not cost the snapshots
            self.accounting = None
            self.faults.report("cannot account for the processes", repr(exc))

    def _recorded(self, orphan: dict[str, Any]) -> dict[str, Any]:
        """A leftover process as summary.json keeps it: its command line redacted too."""
        if orphan.get("cmdline"):
            orphan["cmdline"] = self.redactor.text(orphan["cmdline"])
        return orphan

    def on_signal(self, signum: int, forwarded: bool) -> None:
        """A debug line only: at a terminal, every Ctrl-C would otherwise print into the program."""
        self.log.debug("signal received", signal=signal_name(signum), forwarded=forwarded)
        if forwarded:
            self.emit(INFO, "signal_forwarded", signal=signal_name(signum), pid=self.header["pid"])

    def on_output(self, chunk: bytes, now: float) -> bool:
        """A chunk of the agent's stdout, already passed through: parse its complete lines.

        False when it is no progress for ``--idle-timeout``: its lines only
        said the agent is retrying (see ``retrying``).
        """
        if self.parser is None or self.splitter is None:
            return True
        progress = False
        try:
            lines = self.splitter.feed(chunk)
            for line in lines:
                events = self.parser.feed(line, now)
                self._agent_events(events)
                self.retrying = only_retries(events)
                progress = progress or not self.retrying
        except Exception as exc:  # a parser bug must never reach the command
            self.faults.report("cannot read the agent's stream", repr(exc))
            self.parser = None
            self.retrying = False
            return True
        return progress if lines else not self.retrying  # a part of a line: as the last line

    def on_stop(self, reason: str, now: float) -> None:
        """A limit is stopping the tree: log it before the signals go out."""
        elapsed = round(now - self.start_mono, 2)
        limit = self.args.timeout if reason == "timeout" else self.args.idle_timeout
        turn = self.parser.current_turn if self.parser is not None else None
        self.emit(ERROR, "timeout", reason=reason, limit_sec=limit, elapsed_sec=elapsed, turn=turn)
        what = "timed out" if reason == "timeout" else "stalled (no CPU, no output)"
        if reason == "idle_stall" and self.retrying:
            what = "stalled while the agent retried its API (no other output)"
        self.emit(
            ERROR,
            "error",
            turn=turn,
            error_type=reason,
            message=f"Session {what} after {limit}s",
        )
        self.log.warning("stopping the process tree", reason=reason, limit_s=limit)

    def _agent_events(self, events: list[Event]) -> None:
        for event in events:
            if event.event == "tool_result":
                self._tool_result(event.fields)
            self.emit(event.level, event.event, **event.fields)

    def _tool_result(self, fields: dict[str, Any]) -> None:
        """A completed tool call: its input redacted, what ran under it added."""
        if isinstance(fields.get("input"), str):
            fields["input"] = self.redactor.text(fields["input"])
        if self.tools is not None:
            self.tools.completed(fields)

    def agent_report(self, now: float, cut: bool) -> dict[str, Any] | None:
        """Close the agent's stream and return what it reported."""
        if self.parser is None or self.splitter is None:
            return None
        try:
            for line in self.splitter.finish():
                self._agent_events(self.parser.feed(line, now))
            self._agent_events(self.parser.finish(now, cut=cut))
            return self.parser.summary_fields()
        except Exception as exc:
            self.faults.report("cannot read the agent's stream", repr(exc))
            return None

    def housekeeping(self) -> None:
        """Finalize crashed sessions and apply retention while the command runs.

        Done here, after the first snapshot, so it costs the command nothing;
        our own folder counts toward ``max_sessions``.  Both stay cheap in a
        full store: recovery looks at the running markers only, and a store
        over its limit loses 5 % more, so that it is pruned once in ~20 runs.
        """
        assert self.root is not None
        keep = self.settings.max_sessions
        try:
            self.root.recover_orphans(marked_only=True)
            self.root.prune(keep=keep, slack=keep // 20)
        except (OSError, StoreError) as exc:
            self.faults.report("housekeeping of the log store failed", exc)
        self.read_job_history()

    def read_job_history(self) -> None:
        """The job's key and its latest successful runs, read now so that the
        comparison at the end costs the wrapper's exit nothing but arithmetic.
        """
        assert self.root is not None
        try:
            from autoskillit_trace.summary import job_of

            job = job_of(self.header)
            if job is None:
                return
            self.header["job"] = job
            runs = self.settings.regression_runs
            if runs > 0:  # else no comparison, nothing of it imported
                from autoskillit_trace.regress import comparable
                from autoskillit_trace.store.index import job_runs

                self.job_history = job_runs(self.root.index, job, runs, comparable)
        except OSError:  # an index that cannot be read: no comparison; its writing will tell
            return
        except Exception as exc:  # a bug here must not stop the snapshots
            self.faults.report("cannot read the job's past runs", repr(exc))

    def compare_with_job(self, summary: dict[str, Any]) -> None:
        """A ``regression`` anomaly for each figure far above the job's usual; never raises."""
        if not self.job_history or self.writer is None:
            return
        try:
            from autoskillit_trace.regress import (
                Thresholds,
                add_to_summary,
                anomaly_record,
                regressions,
            )

            found = regressions(summary, self.job_history, Thresholds.from_settings(self.settings))
            for detail in found:
                self.record_anomaly(
                    anomaly_record(
                        detail, summary.get("end_ts"), summary.get("pid"), summary.get("job")
                    )
                )
            add_to_summary(summary, found)
        except Exception as exc:  # the session is published all the same
            self.faults.report("cannot compare the session with its job's runs", repr(exc))

    def outcome(self, ended: ChildExit) -> Outcome:
        agent = self.agent_report(time.monotonic(), cut=ended.stopped is not None)
        if agent is not None:  # the agent never says it: its last lines were retries only
            agent["stalled_retrying"] = ended.stopped == "idle_stall" and self.retrying
        orphans = tuple(self._recorded(orphan.to_record()) for orphan in ended.orphans)
        signal = signal_name(ended.signal) if ended.signal is not None else None
        self.exit_status = ended.child_status if ended.child_status is not None else ended.status
        if ended.stopped is not None:
            reason = ended.stopped
            return Outcome(ended.status, reason, reason, signal, None, None, orphans, agent)
        if ended.signal is not None:
            reason = f"killed_by_signal: {signal}"
            return Outcome(ended.status, "signaled", reason, signal, None, None, orphans, agent)
        subtype = "success" if ended.status == 0 else "failed"
        reason = f"exited: code {ended.status}"
        return Outcome(ended.status, subtype, reason, None, None, None, orphans, agent)

    def finish(self, outcome: Outcome) -> None:
        """Pending summary, index line, summary.json, then release the session lock."""
        assert self.writer is not None and self.root is not None
        _, end_ts = self.clock.now()
        outcome = outcome.replace(
            end_ts=end_ts, duration_seconds=round(time.monotonic() - self.start_mono, 6)
        )
        if self.seq == 0:  # over before its first snapshot: retention still applies
            self.housekeeping()
        summary = self.fold.summary(self.header, outcome)
        summary.update(self.usage())
        self.compare_with_job(summary)
        self.emit(
            INFO if summary["success"] else WARNING,
            "session_end",
            exit_status=outcome.exit_code,
            success=summary["success"],
            termination_reason=outcome.termination_reason,
            duration_sec=round(outcome.duration_seconds or 0.0, 2),
            orphan_count=len(outcome.orphans),
        )
        if self.events is not None:
            self.events.close()
        try:
            self.root.publish(self.writer.folder, summary)
        except OSError as exc:
            self.faults.report(
                f"cannot write the summary or index line of {self.writer.folder}", exc
            )
        self.writer.close()
        self.log.info(
            "session finished",
            session_id=summary["session_id"],
            exit_status=outcome.exit_code,
            subtype=outcome.subtype,
            duration_s=outcome.duration_seconds,
            snapshots=self.fold.peaks.snapshot_count,
            anomalies=summary["anomaly_count"],
            **log_fields(summary),
            folder=self.writer.folder,
        )
        self.export(summary)

    def usage(self) -> dict[str, Any]:
        """Who used it: the last process lines written, then the summary's fields for them."""
        fields: dict[str, Any] = {"process_count": None, "top_processes": []}
        accounting = self.accounting
        if accounting is not None and self.writer is not None and self.seq:  # else none seen
            try:
                for line in with_exit_statuses(accounting.finish(self.exit_status), self.exits):
                    self.writer.append_process(line)
                fields = accounting.summary_fields()
            except Exception as exc:
                self.faults.report("cannot account for the processes", repr(exc))
        if self.tools is not None:
            fields.update(self.tools.summary_fields())
        else:
            fields.update(tool_time_seconds={}, slowest_tool_calls=[])
        return fields

    def _export_targets(self) -> tuple[Target, ...]:
        from autoskillit_trace.export_targets import wanted_targets

        return wanted_targets(self.settings, self.args, self.env)

    def _acquire_slot(self, root: LogRoot) -> tuple[int, int] | None:
        """A session slot when a wanted target labels by it, held until the export."""
        if not any(target.slotted for target in self.targets):
            return None
        from autoskillit_trace.export.slots import hold_slot

        return hold_slot(root.path, self.log)

    def export(self, summary: dict[str, Any]) -> None:
        """Send the published session to the wanted targets; a failure is one warning each.

        Runs after summary.json and the index line are written, once the command
        has exited; the push is bounded by its timeout.
        """
        targets = self.targets
        if not targets:
            return
        try:
            from autoskillit_trace.export import Context, send_all

            assert self.writer is not None
            slot = self.slot[0] if self.slot is not None else None
            context = Context(
                summary, self.settings, self.args, self.env, self.writer.folder, self.redactor, slot
            )
            send_all(targets, context, self.log)
        except Exception as exc:  # a bug here must not reach the command either
            self.log.warning("export failed", problem=repr(exc), command_unaffected=True)
        finally:
            if self.slot is not None:
                os.close(self.slot[1])
                self.slot = None
