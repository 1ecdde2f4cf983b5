"""The wrapper behaves as the bare command for signals: job control, deaths, groups, every signal.

Each case starts the real wrapper; the terminal cases run it in an
interactive bash on a real pseudo-terminal (see terminal.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import clean_env, read_json, start_traced, trace_header, tracer, wait_for, workload
from terminal import CTRL_C, CTRL_Z, Terminal, interactive_bash

# Catchable signals whose default action ends a process: each must reach the command.
_NOT_FATAL = {
    signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH,
    signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGKILL,
}  # fmt: skip
FATAL_CATCHABLE = [n for n in signal.valid_signals() if n not in _NOT_FATAL]


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _child_pid(root: Path) -> int:
    """The command's pid, from the session's start record."""

    def pid() -> int | None:
        for folder in root.glob("sessions/*"):
            found = (trace_header(folder) or {}).get("pid")
            if isinstance(found, int):
                return found
        return None

    found: int = wait_for(pid, timeout=30, what="the session's start record")
    return found


def _shell_words(argv: list[object]) -> str:
    return shlex.join(str(a) for a in argv)


# -- stop and continue ---------------------------------------------------------------


def test_stop_and_continue_longer_than_an_interval(log_root: Path) -> None:
    """SIGSTOP then SIGCONT to the wrapper: it goes on, and the session ends as it should."""
    proc = start_traced(log_root, workload("sleep", 2.5), interval=0.2)
    _child_pid(log_root)
    proc.send_signal(signal.SIGSTOP)
    wait_for(lambda: _state(proc.pid) == "T", what="the wrapper stopped")
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)  # stopped for longer than an interval
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert b"Traceback" not in stderr
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    assert summary["subtype"] == "success"


@pytest.mark.parametrize("name", ["SIGTSTP", "SIGTTIN", "SIGTTOU"])
def test_job_control_stop_to_the_wrapper_stops_both(log_root: Path, name: str) -> None:
    """A stop sent to the wrapper stops the command, and the wrapper with it; SIGCONT resumes."""
    proc = start_traced(log_root, workload("sleep", 1.5), interval=0.2)
    child = _child_pid(log_root)
    proc.send_signal(getattr(signal, name))
    wait_for(lambda: _state(child) == "T", what="the command stopped")
    wait_for(lambda: _state(proc.pid) == "T", what="the wrapper stopped with it")
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr


def test_ctrl_z_past_an_interval_then_fg(log_root: Path, tmp_path: Path) -> None:
    """Ctrl-Z in an interactive bash, held past a snapshot interval, then ``fg``."""
    command = tracer(
        "run", "--log-dir", log_root, "--interval", "0.1", "-q", "--",
        sys.executable, "-c", "import time; time.sleep(2); print('fin' + 'ished')",
    )  # fmt: skip
    with interactive_bash(clean_env(tmp_path)) as term:
        term.send(_shell_words(command).encode() + b"\n")
        _child_pid(log_root)
        term.send(CTRL_Z)
        at = term.read_until(b"Stopped")
        time.sleep(0.5)  # stopped for longer than an interval
        term.send(b"fg\n")
        at = term.read_until(b"finished", start=at)
        term.send(b"echo status=$?\n")
        term.read_until(b"status=0", start=at)
        term.send(b"exit\n")
        term.wait()
    assert "Traceback" not in term.text()
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    assert summary["subtype"] == "success"


# -- deaths by signal -----------------------------------------------------------------


def test_ctrl_c_stops_a_shell_loop(log_root: Path, tmp_path: Path) -> None:
    """bash ends a loop when its child died of SIGINT, as with the bare command."""
    run = _shell_words(tracer("run", "--log-dir", log_root, "-q", "--", "sleep", "20"))
    with interactive_bash(clean_env(tmp_path)) as term:
        term.send(f"for i in 1 2 3; do {run}; echo iteration-$i; done\n".encode())
        _child_pid(log_root)
        term.send(CTRL_C)
        term.send(b"echo after-$((40 + 2))\n")
        at = term.read_until(b"after-42")
        term.send(b"exit\n")
        term.wait()
    assert "iteration-1" not in term.text(0, at)
    assert len(list(log_root.glob("sessions/*"))) == 1


@pytest.mark.parametrize(
    ("script", "message"),
    [("kill -SEGV $$", "Segmentation fault"), ("kill -QUIT $$", "Quit")],
    ids=["segv", "quit"],
)
def test_the_shell_reports_the_death(
    log_root: Path, env: dict[str, str], script: str, message: str
) -> None:
    run = _shell_words(tracer("run", "--log-dir", log_root, "-q", "--", "sh", "-c", script))
    bare = subprocess.run(
        ["bash", "-c", f"sh -c {shlex.quote(script)}; echo status=$?"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    wrapped = subprocess.run(
        ["bash", "-c", f"{run}; echo status=$?"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert message in bare.stderr
    assert message in wrapped.stderr
    assert wrapped.stdout == bare.stdout
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    assert summary["subtype"] == "signaled"


def test_a_signal_death_is_a_death_for_python_callers(log_root: Path, env: dict[str, str]) -> None:
    argv = ["sh", "-c", "kill -TERM $$"]
    bare = subprocess.run(argv, env=env, timeout=60)
    wrapped = subprocess.run(
        tracer("run", "--log-dir", log_root, "-q", "--", *argv), env=env, timeout=60
    )
    assert bare.returncode == wrapped.returncode == -signal.SIGTERM
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    assert summary["exit_code"] == 128 + signal.SIGTERM


# -- signals to the whole group reach the command once ---------------------------------


def test_a_signal_to_the_wrappers_group_reaches_the_command_once(
    log_root: Path, tmp_path: Path
) -> None:
    """``kill -TERM -- -PGID`` (a CI runner cancelling a job)."""
    out = tmp_path / "signals.json"
    proc = start_traced(
        log_root, workload("count-signals", out, 0.5, 20, "SIGTERM"), start_new_session=True
    )
    wait_for(lambda: (read_json(out) or {}).get("ready"), timeout=30, what="workload ready")
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert read_json(out)["counts"] == {"SIGTERM": 1}


def test_coreutils_timeout_reaches_the_command_once(log_root: Path, tmp_path: Path) -> None:
    """``timeout`` signals the wrapper, then its whole group: the command counts one."""
    out = tmp_path / "signals.json"
    argv = [
        "timeout", "--preserve-status", "-s", "TERM", "4",
        *tracer("run", "--log-dir", log_root, "-q", "--",
                *workload("count-signals", out, 0.5, 30, "SIGTERM")),
    ]  # fmt: skip
    proc = subprocess.run(argv, env=clean_env(tmp_path), capture_output=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert read_json(out)["counts"] == {"SIGTERM": 1}


def test_kill_0_from_the_commands_tree_is_not_sent_again(log_root: Path, tmp_path: Path) -> None:
    """At a terminal the command shares the wrapper's group: its own ``kill 0`` reaches both."""
    script = "trap 'echo got-TERM' TERM; kill -TERM 0; sleep 1; echo done-$((1 + 1))"
    command = tracer("run", "--log-dir", log_root, "-q", "--", "sh", "-c", script)
    with Terminal(command, clean_env(tmp_path)) as term:
        term.read_until(b"done-2")
        assert term.wait() == 0
    assert term.text().count("got-TERM") == 1


def test_a_pending_signal_is_not_sent_again(log_root: Path, tmp_path: Path) -> None:
    """A real-time signal to the shared group, blocked by the command: one is queued, not two."""
    out = tmp_path / "signals.json"
    sig = signal.SIGRTMIN + 2
    command = tracer(
        "run", "--log-dir", log_root, "-q", "--",
        *workload("count-blocked", out, 1.0, 0.5, sig),
    )  # fmt: skip
    with Terminal(command, clean_env(tmp_path)) as term:
        wait_for(lambda: (read_json(out) or {}).get("ready"), timeout=30, what="workload ready")
        os.killpg(term.pid, sig)
        assert term.wait() == 0
    assert read_json(out)["counts"] == {str(sig): 1}


# -- every signal -----------------------------------------------------------------------


def test_every_fatal_signal_reaches_the_command(tmp_path: Path) -> None:
    """Sent to the wrapper, each kills the command, and the wrapper dies of it too."""
    env = clean_env(tmp_path)

    def one(signum: int) -> tuple[int, int | None, bool, bytes]:
        root = tmp_path / f"logs-{signum}"
        proc = start_traced(root, ["sleep", "60"], interval=None, extra=("-q",), env=env)
        child = _child_pid(root)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
        wait_for(lambda: not _alive(child), what=f"the command gone after signal {signum}")
        return signum, proc.returncode, _alive(child), stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, FATAL_CATCHABLE))
    wrong = {n: status for n, status, _, _ in results if status != -n}
    assert wrong == {}, f"the wrapper did not die of the signal: {wrong}"
    assert all(b"Traceback" not in err for *_, err in results)


def test_a_handled_signal_leaves_the_exit_status_to_the_command(
    log_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signals.json"
    proc = start_traced(log_root, workload("count-signals", out, 0.3, 20, "SIGALRM", "SIGPWR"))
    wait_for(lambda: (read_json(out) or {}).get("ready"), timeout=30, what="workload ready")
    proc.send_signal(signal.SIGALRM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert read_json(out)["counts"] == {"SIGALRM": 1}
