"""Long runs: retention holds the store at max_sessions, and the wrapper does not grow.

Figures are printed (run with ``-s`` to see them) so they can be quoted.
"""

from __future__ import annotations

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
# The command reports its wrapper's (its parent's) peak RSS and open files, after
# the wrapper's first snapshot and housekeeping (recovery and retention).  On a
# busy machine a prune can still be under way at 0.3 s, its removers holding a
# folder each: the fewest open files seen over a second is what the wrapper keeps.
PROBE_PARENT = (
    "sleep 0.3; awk '/VmHWM/ {print $2}' /proc/$PPID/status; "
    "for i in $(seq 20); do ls /proc/$PPID/fd | wc -l; sleep 0.05; done | sort -n | head -n 1"
)


def _wrapper(root: Path, env: dict[str, str], command: list[str]) -> tuple[int, bytes]:
    """Run one session to its end; its status and the command's stdout."""
    proc = subprocess.run(
        tracer("run", "--log-dir", root, "-q", "--", *command),
        env=env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stdout


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
    probe = ["sh", "-c", PROBE_PARENT]

    def one(n: int) -> tuple[int, bytes]:
        measured = n < 5 or n >= SOAK_SESSIONS - 5
        return _wrapper(log_root, env, probe if measured else ["true"])

    started = time.monotonic()
    # Two at a time: back to back on each of the two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, range(SOAK_SESSIONS)))
    elapsed = time.monotonic() - started

    assert all(status == 0 for status, _ in results)
    folders = [p for p in (log_root / "sessions").iterdir() if not p.name.startswith(".")]
    index, skipped = parse_lines((log_root / "sessions.jsonl").read_bytes())
    # Over its limit, a store loses 5 % more: between 475 and 500 folders remain.
    assert KEEP - KEEP // 20 <= len(folders) <= KEEP and len(index) == len(folders)
    assert skipped == 0
    assert sorted(r["dir_name"] for r in index) == sorted(p.name for p in folders)

    first = [tuple(map(int, out.split())) for _, out in results[:5]]
    last = [tuple(map(int, out.split())) for _, out in results[-5:]]
    print(
        f"\nsoak: {SOAK_SESSIONS} sessions in {elapsed:.0f} s "
        f"({1000 * elapsed / SOAK_SESSIONS:.0f} ms each, 2 at a time); "
        f"wrapper (peak RSS KiB, open fds) first {first}, last {last}"
    )
    # A full store costs a little to prune (the index is read), but nothing that grows.
    assert max(rss for rss, _ in last) - max(rss for rss, _ in first) < 2048
    assert max(fds for _, fds in last) <= max(fds for _, fds in first)


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
def test_20000_snapshots_keep_the_wrapper_flat(tmp_path: Path, log_root: Path) -> None:
    target = 20_000  # at the finest interval run accepts, 0.01 s: over 200 s
    proc = start_traced(
        log_root,
        ["sleep", "3600"],
        interval=0.01,
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
            assert time.monotonic() - started < 600, "too slow to reach 20,000 snapshots"
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
