"""Long runs: retention holds the store at max_sessions, and the wrapper does not grow.

Figures are printed (run with ``-s`` to see them) so they can be quoted.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import clean_env, start_traced, tracer, wait_for

from autoskillit_trace.jsonl import parse_lines

SOAK_SESSIONS = 2000
KEEP = 500
# The command reports how many files its wrapper (its parent) holds open mid-session.
COUNT_PARENT_FDS = "ls /proc/$PPID/fd | wc -l"


def _wrapper(root: Path, env: dict[str, str], command: list[str]) -> tuple[int, int, bytes]:
    """Run one session to its end; its status, the wrapper's peak RSS (KiB), its stdout."""
    proc = subprocess.Popen(
        tracer("run", "--log-dir", root, "-q", "--", *command),
        env=env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss, out


def test_fast_commands_still_apply_retention(tmp_path: Path, log_root: Path) -> None:
    """A command over before the first snapshot still triggers housekeeping."""
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS="2")
    for _ in range(4):
        assert _wrapper(log_root, env, ["true"])[0] == 0
    assert len(list((log_root / "sessions").iterdir())) == 2
    assert len(parse_lines((log_root / "sessions.jsonl").read_bytes())[0]) == 2


@pytest.mark.slow
def test_soak_2000_sessions_keep_500(tmp_path: Path, log_root: Path) -> None:
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS=str(KEEP))
    probe = ["sh", "-c", COUNT_PARENT_FDS]

    def one(n: int) -> tuple[int, int, bytes]:
        measured = n < 5 or n >= SOAK_SESSIONS - 5
        return _wrapper(log_root, env, probe if measured else ["true"])

    started = time.monotonic()
    # Two at a time: back to back on each of the two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, range(SOAK_SESSIONS)))
    elapsed = time.monotonic() - started

    assert all(status == 0 for status, _, _ in results)
    folders = [p for p in (log_root / "sessions").iterdir() if not p.name.startswith(".")]
    index, skipped = parse_lines((log_root / "sessions.jsonl").read_bytes())
    assert len(folders) == KEEP and len(index) == KEEP and skipped == 0
    assert sorted(r["dir_name"] for r in index) == sorted(p.name for p in folders)

    first_rss = [rss for _, rss, _ in results[:20]]
    last_rss = [rss for _, rss, _ in results[-20:]]
    first_fds = [int(out) for _, _, out in results[:5]]
    last_fds = [int(out) for _, _, out in results[-5:]]
    print(
        f"\nsoak: {SOAK_SESSIONS} sessions in {elapsed:.0f} s "
        f"({1000 * elapsed / SOAK_SESSIONS:.0f} ms each, 2 at a time); "
        f"wrapper peak RSS first {max(first_rss)} KiB, last {max(last_rss)} KiB; "
        f"wrapper open fds first {first_fds}, last {last_fds}"
    )
    # The full store costs a little to prune (the index is read), but nothing that grows.
    assert max(last_rss) - max(first_rss) < 2048
    assert max(last_fds) <= max(first_fds)


def _vm_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.slow
def test_60000_snapshots_keep_the_wrapper_flat(tmp_path: Path, log_root: Path) -> None:
    target = 60_000
    proc = start_traced(
        log_root,
        ["sleep", "3600"],
        interval=0.0005,
        extra=("-q",),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trace = wait_for(lambda: next(log_root.glob("sessions/*/proc_trace.jsonl"), None))
    started = time.monotonic()
    samples: list[tuple[int, int]] = []  # (trace bytes, wrapper VmRSS KiB)
    line_bytes = 0
    try:
        while True:
            size = trace.stat().st_size
            rss = _vm_rss_kb(proc.pid)
            assert rss is not None and proc.poll() is None
            samples.append((size, rss))
            if not line_bytes and size > 200_000:
                lines = trace.read_bytes().count(b"\n")
                line_bytes = size // lines
            if line_bytes and size // line_bytes >= target * 1.01:
                break
            assert time.monotonic() - started < 600, "too slow to reach 60,000 snapshots"
            time.sleep(0.25)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    elapsed = time.monotonic() - started
    snapshots = trace.read_bytes().count(b'"event":"snapshot"')
    assert snapshots >= target
    # After warm-up (the first tenth of the run), the wrapper's RSS stays flat.
    warm = [rss for size, rss in samples if line_bytes and size // line_bytes >= target // 10]
    growth = max(warm) - warm[0]
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"\nflat: {snapshots} snapshots in {elapsed:.0f} s "
        f"({1e6 * elapsed / snapshots:.0f} us each); wrapper VmRSS after warm-up "
        f"{warm[0]} -> max {max(warm)} KiB (+{growth} KiB) over {len(warm)} samples "
        f"[test process {peak_self} KiB]"
    )
    assert growth <= 2048
