"""``autoskillit-trace run`` end to end: real wrapper, real children, real files."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import (
    clean_env,
    ctrl_c_at_a_terminal,
    main_in_new_python,
    modules_run_imports,
    read_json,
    run_traced,
    start_traced,
    tracer,
    wait_for,
    workload,
)

SEED_FIELDS = (
    "state",
    "vm_rss_kb",
    "threads",
    "fd_count",
    "fd_soft_limit",
    "ctx_switches_voluntary",
    "ctx_switches_involuntary",
    "sig_pnd",
    "sig_blk",
    "sig_cgt",
    "oom_score",
    "wchan",
)
OWN_FIELDS = ("comm", "cpu_percent", "sched_wait_s")  # the command's, beyond the seed's
TREE_FIELDS = (
    "tree_procs",
    "tree_rss_kb",
    "tree_threads",
    "tree_fd_count",
    "tree_cpu_percent",
    "zombie_pids",
    "zombie_start_ticks",
)
SUMMARY_SEED_FIELDS = (
    "session_id",
    "dir_name",
    "pid",
    "cwd",
    "skill_command",
    "success",
    "subtype",
    "exit_code",
    "start_ts",
    "snapshot_count",
    "anomaly_count",
    "peak_rss_kb",
    "peak_oom_score",
    "peak_fd_ratio",
)


# -- the child behaves as it would bare -------------------------------------


def test_output_passes_through_untouched(log_root: Path) -> None:
    traced = run_traced(log_root, workload("echo", "hello", "world"))
    assert traced.proc.returncode == 0
    assert traced.stdout == "hello world\n"  # stdout belongs to the child alone
    assert "to stderr\n" in traced.stderr


def test_stdin_is_inherited(log_root: Path, env: dict[str, str]) -> None:
    argv = tracer("run", "--log-dir", log_root, "-q", "--", "cat")
    proc = subprocess.run(argv, input=b"line one\nline two\n", capture_output=True, env=env)
    assert proc.stdout == b"line one\nline two\n"
    assert proc.returncode == 0


@pytest.mark.parametrize("code", [0, 1, 3, 42, 255])
def test_exit_code_passes_through(log_root: Path, code: int) -> None:
    traced = run_traced(log_root, workload("exit", code))
    assert traced.proc.returncode == code
    summary = traced.session.summary
    assert summary["exit_code"] == code
    assert summary["success"] is (code == 0)
    assert summary["subtype"] == ("success" if code == 0 else "failed")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV, signal.SIGUSR1])
def test_death_by_signal_is_passed_on(log_root: Path, sig: signal.Signals) -> None:
    """The wrapper dies of the same signal; the files keep 128+N as the exit code."""
    traced = run_traced(log_root, workload("die-by", int(sig)))
    assert traced.proc.returncode == -sig
    assert b"Traceback" not in traced.proc.stderr
    summary = traced.session.summary
    assert summary["subtype"] == "signaled"
    assert summary["signal"] == sig.name
    assert summary["exit_code"] == 128 + sig
    assert summary["success"] is False


def test_command_not_found_is_127_and_recorded(log_root: Path) -> None:
    traced = run_traced(log_root, ["no-such-command-xyz", "arg"])
    assert traced.proc.returncode == 127
    errors = [line for line in traced.stderr.splitlines() if not line.startswith("{")]
    assert errors == ["autoskillit-trace: no-such-command-xyz: command not found"]
    summary = traced.session.summary
    assert summary["subtype"] == "spawn_failed"
    assert summary["success"] is False
    assert summary["pid"] is None
    assert traced.index()[0]["exit_code"] == 127


def test_command_not_executable_is_126(log_root: Path, tmp_path: Path) -> None:
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    traced = run_traced(log_root, [str(script)])
    assert traced.proc.returncode == 126
    assert f"autoskillit-trace: {script}: Permission denied" in traced.stderr
    assert traced.session.summary["subtype"] == "spawn_failed"


def test_exit_is_prompt_whatever_the_interval(log_root: Path, env: dict[str, str]) -> None:
    """The loop wakes on SIGCHLD: it never waits out the sampling interval.

    An interval-bound tool would take the hour, far past the timeout; how
    promptly it ends is a figure of ``make bench`` ("exit latency").
    """
    argv = tracer("run", "--log-dir", log_root, "--interval", "3600", "-q", "--", "sleep", "0.2")
    subprocess.run(argv, env=env, check=True, timeout=120)


# -- signals ----------------------------------------------------------------


FORWARDED = ("SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2")


@pytest.mark.parametrize("name", FORWARDED)
def test_signal_to_wrapper_reaches_child_once(log_root: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "signals.json"
    proc = start_traced(log_root, workload("count-signals", out, 0.5, 10, name))
    wait_for(lambda: (read_json(out) or {}).get("ready"), what="workload ready")
    proc.send_signal(getattr(signal, name))
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert read_json(out)["counts"] == {name: 1}
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    assert summary["success"] is True


def test_sigterm_kills_child_and_session_is_recorded(log_root: Path) -> None:
    proc = start_traced(log_root, workload("sleep", 30))
    wait_for(lambda: list(log_root.glob("sessions/*/proc_trace.jsonl")), what="session start")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    assert summary["subtype"] == "signaled" and summary["signal"] == "SIGTERM"
    index = (log_root / "sessions.jsonl").read_text().splitlines()
    assert len(index) == 1 and json.loads(index[0])["exit_code"] == 143


def test_ctrl_c_at_a_terminal_reaches_child_once(log_root: Path, tmp_path: Path) -> None:
    """The terminal signals the whole foreground group; the wrapper must not add a second."""

    out = tmp_path / "signals.json"
    argv = tracer(
        "run",
        "--log-dir",
        log_root,
        "--interval",
        "0.1",
        "-q",
        "--",
        *workload("count-signals", out, 0.5, 10, "SIGINT"),
    )
    assert ctrl_c_at_a_terminal(argv, out, clean_env(tmp_path)) == 0
    assert read_json(out)["counts"] == {"SIGINT": 1}
    assert next(log_root.glob("sessions/*/summary.json")).exists()


# -- what is sampled ----------------------------------------------------------


def test_trace_lines_carry_the_seed_fields(log_root: Path) -> None:
    traced = run_traced(log_root, workload("sleep", 0.6), interval=0.1)
    records = traced.session.records()
    assert records[0]["event"] == "session_start" and records[0]["agent_events"] is False
    snapshots = traced.session.snapshots
    assert len(snapshots) >= 4
    assert [s["seq"] for s in snapshots] == list(range(len(snapshots)))
    for snap in snapshots:
        assert snap["event"] == "snapshot"
        assert snap["pid"] == traced.session.summary["pid"]
        for name in (*SEED_FIELDS, *OWN_FIELDS, *TREE_FIELDS, "ts", "elapsed_s"):
            assert name in snap
    later = snapshots[1]
    assert later["state"] in ("sleeping", "running")
    assert later["vm_rss_kb"] > 1000 and later["threads"] >= 1
    assert later["fd_count"] >= 3 and later["fd_soft_limit"] >= later["fd_count"]
    assert len(later["sig_pnd"]) == 16 and int(later["sig_pnd"], 16) == 0
    assert 0 <= later["oom_score"] <= 1000
    assert later["comm"].startswith("python")
    assert later["cpu_percent"] is not None
    assert later["tree_procs"] >= 1
    times = [s["ts"] for s in snapshots]
    assert times == sorted(times) and len(set(times)) == len(times)
    elapsed = [s["elapsed_s"] for s in snapshots]
    assert elapsed == sorted(elapsed)


def test_first_snapshot_is_taken_at_once(log_root: Path) -> None:
    traced = run_traced(log_root, workload("sleep", 0.5), interval=30)
    snapshots = traced.session.snapshots
    assert len(snapshots) == 1  # within the command's 0.5 s, not 30 s in


def test_whole_process_tree_is_sampled(log_root: Path) -> None:
    script = "sleep 1 & sleep 1 & sleep 1 & wait"
    traced = run_traced(log_root, ["bash", "-c", script], interval=0.1)
    peak = max(s["tree_procs"] for s in traced.session.snapshots)
    assert peak >= 4  # bash and its three sleeps
    assert traced.session.summary["peak_tree_procs"] == peak


def test_summary_has_seed_and_extra_fields(log_root: Path) -> None:
    traced = run_traced(log_root, workload("sleep", 0.3), interval=0.1)
    summary = traced.session.summary
    for name in (
        *SUMMARY_SEED_FIELDS,
        "end_ts",
        "duration_seconds",
        "termination_reason",
        "snapshot_interval_seconds",
        "peak_tree_rss_kb",
        "schema_version",
    ):
        assert name in summary, name
    assert summary["snapshot_count"] == len(traced.session.snapshots)
    assert summary["peak_rss_kb"] == max(s["vm_rss_kb"] or 0 for s in traced.session.snapshots)
    assert summary["snapshot_interval_seconds"] == 0.1
    assert summary["skill_command"].endswith("workloads.py sleep 0.3")
    index = traced.index()
    assert len(index) == 1
    assert all(not isinstance(v, (dict, list)) for v in index[0].values())
    assert index[0]["dir_name"] == summary["dir_name"]


# -- anomalies from real misbehaviour ------------------------------------------


def _assert_live_equals_replay(traced_session: object) -> None:
    session = traced_session
    assert session.replayed() == session.anomalies  # type: ignore[attr-defined]


def test_growing_memory_triggers_rss_growth(log_root: Path) -> None:
    traced = run_traced(log_root, workload("grow", 3, 4, 0.05), interval=0.1)
    assert "rss_growth" in traced.session.kinds
    assert traced.session.summary["anomalies_by_kind"]["rss_growth"] == 1
    _assert_live_equals_replay(traced.session)


def test_open_files_near_the_limit_trigger_fd_high(log_root: Path) -> None:
    traced = run_traced(log_root, workload("fds", 64, 60, 1.0), interval=0.1)
    fd_high = [a for a in traced.session.anomalies if a["kind"] == "fd_high"]
    assert len(fd_high) == 1
    assert fd_high[0]["detail"]["fd_soft_limit"] == 64
    _assert_live_equals_replay(traced.session)


def test_unreaped_child_triggers_zombie_detected_then_persistent(log_root: Path) -> None:
    # Detected after 1 s unreaped, persistent after 2 s.
    traced = run_traced(log_root, workload("zombie", 3), interval=0.1)
    kinds = traced.session.kinds
    assert kinds.count("zombie_detected") == 1
    assert kinds.count("zombie_persistent") == 1
    assert kinds.index("zombie_detected") < kinds.index("zombie_persistent")
    assert traced.session.summary["anomaly_count"] == len(kinds)
    _assert_live_equals_replay(traced.session)


def test_blocked_signal_received_triggers_signals_pending(log_root: Path) -> None:
    # Flagged once it has stayed pending for 1 s.
    traced = run_traced(log_root, workload("sigpending", 0.5, 2.0), interval=0.1)
    pending = [a for a in traced.session.anomalies if a["kind"] == "signals_pending"]
    assert len(pending) == 1
    assert int(pending[0]["snapshot"]["sig_pnd"], 16) & (1 << (signal.SIGUSR1 - 1))
    _assert_live_equals_replay(traced.session)


def test_raised_oom_score_triggers_oom_critical(log_root: Path) -> None:
    traced = run_traced(log_root, workload("oom", 0.3, 1.0), interval=0.1)
    kinds = traced.session.kinds
    assert kinds.count("oom_critical") == 1
    assert traced.session.summary["peak_oom_score"] >= 800
    _assert_live_equals_replay(traced.session)


def test_anomalies_are_logged_as_they_happen(log_root: Path) -> None:
    traced = run_traced(log_root, workload("oom", 0.3, 0.6), interval=0.1)
    lines = [json.loads(x) for x in traced.stderr.splitlines()]
    events = [line["event"] for line in lines]
    assert events[0] == "session started" and events[-1] == "session finished"
    anomaly_lines = [x for x in lines if x["event"] == "anomaly detected"]
    assert [x["kind"] for x in anomaly_lines] == traced.session.kinds
    assert anomaly_lines[0]["level"] == "warning"


def test_quiet_run_logs_nothing(log_root: Path) -> None:
    traced = run_traced(log_root, workload("sleep", 0.1), extra=("-q",))
    assert traced.stderr == ""
    assert traced.session.summary["success"] is True


def test_the_garbage_collector_is_back_on_for_the_session(
    log_root: Path, env: dict[str, str]
) -> None:
    """Off while the modules load, on (with the start-up objects frozen) before the command runs."""
    spy = (
        "import gc\n"
        "import autoskillit_trace.session as session\n"
        "seen = []\n"
        "tick = session.TracedSession.tick\n"
        "def spy(self, now):\n"
        "    seen.append(gc.isenabled())\n"
        "    tick(self, now)\n"
        "session.TracedSession.tick = spy"
    )
    argv = ["run", "--log-dir", str(log_root), "-q", "--", "sleep", "0.3"]
    after = "print(status, seen and all(seen), gc.get_freeze_count() > 0)"
    proc = main_in_new_python(spy, argv, after, env)
    assert proc.stdout.split() == ["0", "True", "True"], proc.stderr


def test_run_imports_nothing_it_does_not_use(log_root: Path, env: dict[str, str]) -> None:
    """`run` is on every CI step's path: no click, structlog, asyncio, psutil, yaml, pathlib...

    Nor ``re``, ``json``, ``enum`` (signal.py's) or ``collections``: together
    they cost a start ~8 ms of CPU, and writing JSON needs only ``_json``.
    Nor the stream formats, without --agent-events.
    """
    heavy = {
        "click", "structlog", "asyncio", "psutil", "platformdirs", "yaml", "threading",
        "pathlib", "contextlib", "urllib", "ipaddress", "fnmatch",
        "re", "json", "enum", "signal", "shlex", "collections", "functools",
        "autoskillit_trace.agents",
    }  # fmt: skip
    assert modules_run_imports(log_root, env, heavy) == []


def test_run_imports_no_feature_that_is_off(log_root: Path, env: dict[str, str]) -> None:
    """The tool calls, the HTML report and the exports need their options; the job's
    comparison, ``regression_runs`` above 0.  Accounting, the totals and the job's key
    are every run's."""
    off = {**env, "AUTOSKILLIT_LINUX_TRACING__REGRESSION_RUNS": "0"}
    features = {
        "autoskillit_trace.toolcalls", "autoskillit_trace.report", "autoskillit_trace.export",
        "autoskillit_trace.regress", "autoskillit_trace.comparison", "autoskillit_trace.trend",
    }  # fmt: skip
    assert modules_run_imports(log_root, off, features) == []


def test_what_run_itself_prints_is_out_before_it_exits(log_root: Path, env: dict[str, str]) -> None:
    """``run`` ends with ``os._exit``: its help and its log lines, into pipes, are whole."""
    shown = subprocess.run(tracer("run", "--help"), capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and shown.stderr == ""
    assert "--interval" in shown.stdout and shown.stdout.endswith("\n")
    traced = run_traced(log_root, workload("exit", 3))
    assert traced.proc.returncode == 3
    lines = [json.loads(line) for line in traced.stderr.splitlines()]
    assert lines[-1]["event"] == "session finished" and lines[-1]["exit_status"] == 3
