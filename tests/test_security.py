"""Nobody else can read what is recorded, nor redirect where it is written."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import Traced, clean_env, run_args, run_traced, tracer, workload

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")


def _nobody() -> int:
    return pwd.getpwnam("nobody").pw_uid


def warnings_of(traced: Traced) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in traced.stderr.splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("level") == "warning"]


def assert_untraced_but_unharmed(traced: Traced, needle: str) -> None:
    """The command's output and status are intact, and one clear warning was given."""
    assert traced.proc.returncode == 3
    assert traced.stdout == "hello\n"
    assert "Traceback" not in traced.stderr
    found = warnings_of(traced)
    assert len(found) == 1, traced.stderr
    assert needle in str(found[0]["problem"]), found[0]
    assert str(found[0]["problem"]).endswith("; the command goes on")


ECHO_EXIT_3 = ["sh", "-c", "echo hello; exit 3"]


@pytest.mark.parametrize("umask", [0o000, 0o077, 0o022, 0o277])
def test_folders_0700_and_files_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    root = tmp_path / "made" / "by-us" / "logs"  # missing parents are created too
    argv = tracer(*run_args(root, 0.05, ()), "--", *workload("oom", 0.1, 0.3))
    proc = subprocess.run(argv, env=clean_env(tmp_path), umask=umask, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    kinds = set()
    for path in [tmp_path / "made", *sorted((tmp_path / "made").rglob("*"))]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == 0o700, f"{path}: {oct(mode)} with umask {oct(umask)}"
        else:
            assert mode == 0o600, f"{path}: {oct(mode)} with umask {oct(umask)}"
        kinds.add(path.name)
    assert {"sessions.jsonl", "proc_trace.jsonl", "summary.json", "anomalies.jsonl"} <= kinds


def test_existing_parents_are_left_alone(tmp_path: Path, log_root: Path) -> None:
    tmp_path.chmod(0o755)
    run_traced(log_root, ["true"])
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE(log_root.stat().st_mode) == 0o700


def test_session_folder_that_is_a_symlink_is_refused(tmp_path: Path, log_root: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (log_root / "sessions").mkdir(parents=True, mode=0o700)
    (log_root / "sessions" / "planted").symlink_to(target)
    traced = run_traced(log_root, ECHO_EXIT_3, extra=("--session-id", "planted"))
    assert_untraced_but_unharmed(traced, "is a symlink; refusing to write there")
    assert list(target.iterdir()) == []
    assert not (log_root / "sessions.jsonl").exists()


def test_sessions_folder_that_is_a_symlink_is_refused(tmp_path: Path, log_root: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    log_root.mkdir(mode=0o700)
    (log_root / "sessions").symlink_to(target)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert_untraced_but_unharmed(traced, "sessions is not a folder")
    assert list(target.iterdir()) == []


def test_index_that_is_a_symlink_is_never_followed(tmp_path: Path, log_root: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    log_root.mkdir(mode=0o700)
    (log_root / "sessions.jsonl").symlink_to(victim)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert traced.proc.returncode == 3 and traced.stdout == "hello\n"
    assert victim.read_text() == "precious\n"
    assert len(warnings_of(traced)) == 1
    assert "Traceback" not in traced.stderr


@needs_root
def test_root_of_another_user_writable_by_others_is_refused(log_root: Path) -> None:
    log_root.mkdir()
    os.chown(log_root, _nobody(), -1)
    log_root.chmod(0o777)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert_untraced_but_unharmed(traced, "belongs to another user and others can write to it")
    assert list(log_root.iterdir()) == []


@needs_root
def test_sessions_folder_of_another_user_writable_by_others_is_refused(log_root: Path) -> None:
    (log_root / "sessions").mkdir(parents=True)
    log_root.chmod(0o700)
    os.chown(log_root / "sessions", _nobody(), -1)
    (log_root / "sessions").chmod(0o777)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert_untraced_but_unharmed(traced, "belongs to another user and others can write to it")
    assert list((log_root / "sessions").iterdir()) == []


@needs_root
def test_root_of_another_user_not_writable_by_others_is_used(log_root: Path) -> None:
    log_root.mkdir()
    os.chown(log_root, _nobody(), -1)
    log_root.chmod(0o755)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert traced.proc.returncode == 3
    assert warnings_of(traced) == []
    assert traced.session.summary["exit_code"] == 3


@needs_root
def test_root_symlink_of_another_user_is_refused(tmp_path: Path, log_root: Path) -> None:
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    log_root.symlink_to(target)
    os.lchown(log_root, _nobody(), -1)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert_untraced_but_unharmed(traced, "is a symlink owned by another user")
    assert list(target.iterdir()) == []


def test_own_root_symlink_is_followed(tmp_path: Path, log_root: Path) -> None:
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    log_root.symlink_to(target)
    traced = run_traced(log_root, ECHO_EXIT_3)
    assert traced.proc.returncode == 3 and warnings_of(traced) == []
    assert (target / "sessions.jsonl").exists()
