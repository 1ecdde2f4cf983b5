"""One traced run: settings -> store -> supervisor -> sampler -> detectors -> summary.

The command comes first: every tracing step catches its own faults, reports
the first one as a single warning, and lets the command go on untouched.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoskillit_trace import __version__
from autoskillit_trace.config import Resolved, log_root
from autoskillit_trace.log import Logger
from autoskillit_trace.runopts import RunArgs
from autoskillit_trace.store import Faults, LogRoot, SessionWriter, StoreError
from autoskillit_trace.summary import Outcome, Peaks, build_summary, index_record
from autoskillit_trace.supervisor import ChildExit, SpawnError, Supervisor, signal_name
from autoskillit_trace.timeutil import CaptureClock, compact_utc, iso_utc

if TYPE_CHECKING:
    from autoskillit_trace.redact import Redactor


def command_line(argv: list[str], redactor: Redactor | None = None) -> str:
    """The command as recorded: secrets redacted, shell-quoted, non-UTF-8 bytes as escapes."""
    if redactor is None:
        from autoskillit_trace.redact import Redactor

        redactor = Redactor()
    shown = [os.fsencode(arg).decode("utf-8", "backslashreplace") for arg in argv]
    return shlex.join(redactor.argv(shown))


def run(args: RunArgs, resolved: Resolved, log: Logger, env: dict[str, str]) -> int:
    """Run ``args.argv`` to its end and return the wrapper's exit status."""
    settings = resolved.settings
    supervisor = Supervisor(args.argv, env)
    if not settings.enabled or not sys.platform.startswith("linux"):
        return _run_untraced(supervisor, log)
    faults = Faults(lambda message: log.warning("tracing fault", problem=message))
    traced = TracedSession(args, resolved, log, faults)
    if not traced.open(log_root(settings, env)):
        return _run_untraced(supervisor, log)
    try:
        pid = supervisor.spawn()
    except SpawnError as exc:
        _print_error(str(exc))
        traced.start(pid=None)
        reason = traced.redactor.text(f"spawn_failed: {exc}")
        traced.finish(Outcome(exc.status, "spawn_failed", reason))
        return exc.status
    traced.start(pid)
    ended = supervisor.wait(settings.proc_interval, traced.tick, traced.on_signal)
    traced.finish(traced.outcome(ended))
    return ended.status


def _run_untraced(supervisor: Supervisor, log: Logger) -> int:
    try:
        supervisor.spawn()
    except SpawnError as exc:
        _print_error(str(exc))
        return exc.status
    return supervisor.wait(None, lambda _now: None).status


def _print_error(message: str) -> None:
    try:
        sys.stderr.write(f"autoskillit-trace: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
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
        self.peaks = Peaks()
        self.kinds: Counter[str] = Counter()
        self.seq = 0
        self.sampler: Any = None
        self.proc_fault_told = False
        self.detector: Any = None

    @property
    def redactor(self) -> Redactor:
        """Compiled on first use, once the command is already running."""
        if self._redactor is None:
            from autoskillit_trace.redact import Redactor

            self._redactor = Redactor(self.settings.redact_patterns)
        return self._redactor

    def open(self, root_path: Path) -> bool:
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
        self.writer = SessionWriter(folder, self.faults)
        self.writer.open_trace()
        return True

    def start(self, pid: int | None) -> None:
        """Write the start record and log the start line."""
        from autoskillit_trace.recovery import process_start_ticks, read_boot_id

        assert self.writer is not None
        folder = self.writer.folder
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
            "session_id": self.args.session_id or folder.name,
            "dir_name": folder.name,
            "pid": pid,
            "wrapper_pid": os.getpid(),
            "wrapper_start_ticks": process_start_ticks(os.getpid()),
            "boot_id": read_boot_id(),
            "hostname": os.uname().nodename,
            "cwd": cwd,
            "skill_command": command_line(self.args.argv, self.redactor),
            "start_ts": iso_utc(self.start_micros),
            "snapshot_interval_seconds": self.settings.proc_interval,
            "tracer_version": __version__,
        }
        self.writer.append_trace(self.header)
        if pid is not None:
            from autoskillit_trace.detect import Detector
            from autoskillit_trace.sampler import Sampler

            self.sampler = Sampler(pid)
            self.detector = Detector()
        self.log.info(
            "session started",
            session_id=self.header["session_id"],
            pid=pid,
            command=self.header["skill_command"],
            folder=str(folder),
        )

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
        if self.sampler.unreadable is not None and not self.proc_fault_told:
            self.proc_fault_told = True
            self.faults.report("some values are recorded as null", self.sampler.unreadable)
        self.writer.append_trace(snapshot)
        self.peaks.feed(snapshot)
        for anomaly in self.detector.feed(snapshot):
            self.kinds[anomaly.kind] += 1
            self.writer.append_anomaly(anomaly.to_record())
            self.log.warning(
                "anomaly detected",
                kind=anomaly.kind,
                severity=anomaly.severity,
                pid=anomaly.pid,
                seq=anomaly.seq,
                detail=anomaly.detail,
            )
        if self.seq == 0:
            self.housekeeping()
        self.seq += 1

    def on_signal(self, signum: int, forwarded: bool) -> None:
        self.log.info("signal received", signal=signal_name(signum), forwarded=forwarded)

    def housekeeping(self) -> None:
        """Finalize crashed sessions and apply retention while the command runs.

        Done here, after the first snapshot, so it costs the command nothing;
        our own folder counts toward ``max_sessions``.
        """
        from autoskillit_trace.recovery import finalize_crashed

        assert self.root is not None
        try:
            self.root.recover_orphans(finalize_crashed)
            self.root.prune(keep=self.settings.max_sessions)
        except (OSError, StoreError) as exc:
            self.faults.report("housekeeping of the log store failed", exc)

    def outcome(self, ended: ChildExit) -> Outcome:
        if ended.signal is not None:
            return Outcome(
                ended.status,
                "signaled",
                f"killed_by_signal: {signal_name(ended.signal)}",
                signal=signal_name(ended.signal),
            )
        subtype = "success" if ended.status == 0 else "failed"
        return Outcome(ended.status, subtype, f"exited: code {ended.status}")

    def finish(self, outcome: Outcome) -> None:
        """Pending summary, index line, summary.json, then release the session lock."""
        assert self.writer is not None and self.root is not None
        _, end_ts = self.clock.now()
        outcome = Outcome(
            outcome.exit_code,
            outcome.subtype,
            outcome.termination_reason,
            signal=outcome.signal,
            end_ts=end_ts,
            duration_seconds=round(time.monotonic() - self.start_mono, 6),
        )
        if self.seq == 0:  # over before its first snapshot: retention still applies
            self.housekeeping()
        summary = build_summary(self.header, self.peaks, outcome, dict(self.kinds))
        if self.writer.stage_summary(summary):
            try:
                self.root.append_index(index_record(summary))
            except OSError as exc:
                self.faults.report(f"cannot write {self.root.index}", exc)
            self.writer.commit_summary()
        self.writer.close()
        self.log.info(
            "session finished",
            session_id=summary["session_id"],
            exit_status=outcome.exit_code,
            subtype=outcome.subtype,
            duration_s=outcome.duration_seconds,
            snapshots=self.peaks.snapshot_count,
            anomalies=summary["anomaly_count"],
            folder=str(self.writer.folder),
        )
