"""How settings shape a run: disabled tracing, refused configuration, retention."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import clean_env, main_in_new_python, run_traced, tracer, wait_for, workload


def test_no_trace_runs_the_command_and_writes_nothing(log_root: Path) -> None:
    traced = run_traced(log_root, workload("echo", "hi"), extra=("--no-trace",))
    assert traced.proc.returncode == 0
    assert traced.stdout == "hi\n"
    assert not log_root.exists()


def test_tracing_disabled_in_the_project_file(log_root: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".autoskillit").mkdir(parents=True)
    (project / ".autoskillit" / "config.yaml").write_text("linux_tracing:\n  enabled: false\n")
    traced = run_traced(log_root, workload("exit", 3), cwd=project)
    assert traced.proc.returncode == 3
    assert not log_root.exists()


def test_bad_configuration_refuses_before_the_command_starts(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".autoskillit").mkdir(parents=True)
    config = project / ".autoskillit" / "config.yaml"
    config.write_text("linux_tracing:\n  proc_interval: -1\n")
    marker = tmp_path / "ran"
    argv = tracer("run", "--", "touch", marker)
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=project, env=clean_env(tmp_path)
    )
    assert proc.returncode == 2
    assert not marker.exists()
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert str(config) in proc.stderr and "linux_tracing.proc_interval" in proc.stderr


def test_bad_environment_value_names_the_variable(log_root: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS="many")
    proc = subprocess.run(tracer("run", "--", "true"), capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_retention_keeps_max_sessions_newest(log_root: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS="3")
    for n in range(5):
        run_traced(log_root, ["true"], extra=("--session-id", f"s{n}", "-q"), env=env)
    folders = sorted(p.name for p in (log_root / "sessions").iterdir())
    assert folders == ["s2", "s3", "s4"]
    index = (log_root / "sessions.jsonl").read_text().splitlines()
    assert [line.split('"dir_name":"')[1].split('"')[0] for line in index] == ["s2", "s3", "s4"]


def test_a_store_over_its_limit_loses_a_twentieth_more(log_root: Path, tmp_path: Path) -> None:
    """So that a store at its limit is not pruned (its index rewritten) at every run."""
    from autoskillit_trace.store.root import LogRoot
    from autoskillit_trace.timeutil import iso_utc

    root = LogRoot(log_root)
    root.ensure()
    for n in range(40):  # finished sessions, oldest first
        name = f"s{n:02d}"
        start = iso_utc((1_790_000_000 + 60 * n) * 1_000_000)
        summary = {"session_id": name, "dir_name": name, "start_ts": start}
        root.publish(root.create_session_dir(name), summary)
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS="40")
    run_traced(log_root, ["true"], extra=("--session-id", "new", "-q"), env=env)
    left = sorted(p.name for p in (log_root / "sessions").iterdir())
    assert left == ["new"] + [f"s{n:02d}" for n in range(3, 40)]  # 41 -> 38
    run_traced(log_root, ["true"], extra=("--session-id", "newer", "-q"), env=env)
    assert len(list((log_root / "sessions").iterdir())) == 39  # under the limit: nothing goes
    assert len((log_root / "sessions.jsonl").read_text().splitlines()) == 39


def test_session_id_collision_gets_a_suffix(log_root: Path) -> None:
    first = run_traced(log_root, ["true"], extra=("--session-id", "build"))
    second = run_traced(log_root, ["true"], extra=("--session-id", "build"))
    names = sorted(s.folder.name for s in second.sessions())
    assert names == ["build", "build-2"]
    summary = second.sessions()[1].summary
    assert summary["session_id"] == "build" and summary["dir_name"] == "build-2"
    assert first.proc.returncode == second.proc.returncode == 0


def test_other_platforms_run_the_command_and_write_nothing(
    log_root: Path, env: dict[str, str]
) -> None:
    argv = ["run", "--log-dir", str(log_root), "--", "sh", "-c", "echo out; exit 4"]
    proc = main_in_new_python("import sys\nsys.platform = 'darwin'", argv, "sys.exit(status)", env)
    assert proc.returncode == 4
    assert proc.stdout == "out\n"
    assert not log_root.exists()


def test_limits_that_cannot_apply_elsewhere_say_so(log_root: Path, env: dict[str, str]) -> None:
    """Without sigtimedwait (macOS) the command runs to its end, and a warning says why."""
    no_timed_wait = "import _signal, signal, sys\nsys.platform = 'darwin'\n" + (
        "del signal.sigtimedwait, _signal.sigtimedwait"
    )
    argv = ["run", "--log-dir", str(log_root), "--timeout", "0.1", "--", "sleep", "0.5"]
    proc = main_in_new_python(no_timed_wait, argv, "sys.exit(status)", env)
    assert proc.returncode == 0  # not stopped: the limit could not be applied
    [line] = proc.stderr.splitlines()
    assert "limits not applied" in line and "--timeout" in line


def test_a_command_exited_but_not_yet_reaped_is_not_recorded(tmp_path: Path) -> None:
    """Between its exit and the wrapper's reaping it, the command is a zombie of ours.

    A snapshot then would only report the wrapper's own timing, as a false
    zombie_detected for the command; the session records none.  Driven
    in-process so the child is surely in that state (this process does not reap it).
    """
    import os
    import time

    from helpers import Session

    from autoskillit_trace.config import load
    from autoskillit_trace.faults import Faults
    from autoskillit_trace.log import make_logger
    from autoskillit_trace.runopts import parse_run_args
    from autoskillit_trace.session import TracedSession

    env = clean_env(tmp_path)
    args = parse_run_args(["--", "true"], env)
    log = make_logger("json", quiet=True)
    traced = TracedSession(args, load(tmp_path, env), log, Faults(lambda _m: None))
    assert traced.open(tmp_path / "logs")
    pid = os.posix_spawnp("true", ["true"], env)
    wait_for(
        lambda: Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z", what="a zombie"
    )
    try:
        traced.start(pid)
        traced.tick(time.monotonic())
        folder = next((tmp_path / "logs" / "sessions").iterdir())
        assert Session(folder).snapshots == []
        assert not (folder / "anomalies.jsonl").exists()
        assert traced.fold.kinds == {}
    finally:
        os.waitpid(pid, 0)
