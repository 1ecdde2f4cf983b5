"""Every exit code and every death by signal passes through the wrapper exactly.

A command that dies of signal N makes the wrapper die of N too (its parent
sees what it would see bare); summary.json and the index record 128+N.

256 exit codes and ~50 signals are ~300 wrapper processes: they run four at a
time, untraced (``--no-trace``) where the recording is not under test, and a
sample of them traced, whose summary and index line must say the same.
"""

from __future__ import annotations

import json
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import clean_env, tracer

# Signals whose default action is not to terminate: the child cannot die of them.
_NOT_FATAL = {
    signal.SIGCHLD,
    signal.SIGCONT,
    signal.SIGURG,
    signal.SIGWINCH,
    signal.SIGSTOP,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
}
# 32 and 33 are the C library's own: no program built on it can die of them by default.
FATAL_SIGNALS = [
    n
    for n in range(1, signal.SIGRTMAX + 1)
    if n not in _NOT_FATAL and n not in (32, 33) and n != signal.SIGKILL
] + [signal.SIGKILL]  # not catchable, but a death all the same

TRACED_CODES = {0, 1, 2, 126, 127, 128, 129, 143, 200, 255}
TRACED_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGSEGV, signal.SIGTERM, signal.SIGRTMAX}


def _run(root: Path, env: dict[str, str], script: str, traced: bool) -> tuple[int, bytes]:
    mode = ["--interval", "0.02", "--log-format", "json"] if traced else ["-q", "--no-trace"]
    proc = subprocess.run(
        tracer("run", "--log-dir", root, *mode, "--", "sh", "-c", script),
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    return proc.returncode, proc.stderr


def test_every_exit_code_and_fatal_signal_passes_through(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    cases: list[tuple[str, int, str, bool]] = [
        (f"exit {code}", code, f"exit {code}", code in TRACED_CODES) for code in range(256)
    ]
    cases += [(f"signal {n}", -n, f"kill -{n} $$", n in TRACED_SIGNALS) for n in FATAL_SIGNALS]
    roots = {name: tmp_path / "logs" / name.replace(" ", "-") for name, *_ in cases}

    def one(case: tuple[str, int, str, bool]) -> tuple[str, int, bytes]:
        name, _, script, traced = case
        status, stderr = _run(roots[name], env, script, traced)
        return name, status, stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = {name: (status, err) for name, status, err in pool.map(one, cases)}

    wrong = {n: results[n][0] for n, want, *_ in cases if results[n][0] != want}
    assert wrong == {}, f"statuses that did not pass through: {wrong}"
    for name, want, _, traced in cases:
        stderr = results[name][1]
        assert b"Traceback" not in stderr, (name, stderr)
        if not traced:
            assert stderr == b"", (name, stderr)
            assert not roots[name].exists()
            continue
        recorded = want if want >= 0 else 128 - want
        summary = json.loads(next(roots[name].glob("sessions/*/summary.json")).read_text())
        index = [json.loads(x) for x in (roots[name] / "sessions.jsonl").read_text().splitlines()]
        assert summary["exit_code"] == recorded and index[0]["exit_code"] == recorded
        assert summary["success"] is (want == 0)
        if name.startswith("signal"):
            n = -want
            assert summary["subtype"] == "signaled"
            assert summary["signal"] == signal.Signals(n).name
            assert summary["termination_reason"] == f"killed_by_signal: {signal.Signals(n).name}"
        else:
            assert summary["subtype"] == ("success" if want == 0 else "failed")
            assert summary["signal"] is None
