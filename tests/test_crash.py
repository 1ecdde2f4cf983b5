"""The wrapper killed with SIGKILL at random moments loses nothing it had written.

Each kill lands somewhere in a session's life: before the folder exists,
while snapshots stream, or while summary.json and the index line are being
written.  Afterwards every line complete before the kill is still there,
readers skip a cut last line, summary.json and the index are whole or
absent, and recovery finalizes each killed session as crashed exactly once.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import clean_env, run_traced, start_traced, workload

from autoskillit_trace.jsonl import iter_file, parse_lines
from autoskillit_trace.store import orphans
from autoskillit_trace.store.index import append_index
from autoskillit_trace.store.root import LogRoot

KILLS = 50
SESSION_S = 0.4


def _kill_at(root: Path, delay: float, seed: int) -> tuple[int, bytes]:
    """Start a session and SIGKILL its wrapper; the trace's bytes just before the kill.

    ``delay`` >= 0: that long after the trace appeared; < 0: -delay after the start.
    """
    proc = start_traced(
        root,
        workload("sleep", SESSION_S),
        interval=0.01,
        extra=("-q", "--session-id", f"kill-{seed:02d}"),
        env=clean_env(root.parent),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trace = root / "sessions" / f"kill-{seed:02d}" / "proc_trace.jsonl"
    if delay >= 0:  # that long after the session started
        deadline = time.monotonic() + 20
        while not trace.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
    time.sleep(abs(delay))
    try:
        before = trace.read_bytes()
    except OSError:
        before = b""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.returncode, before


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    rng = random.Random(20261122)
    # A few moments during start-up (negative: after the wrapper was started), the
    # rest after the session started, up to past its end (summary being written).
    delays = [
        -rng.uniform(0.0, 0.15) if n % 8 == 0 else rng.uniform(0.0, SESSION_S + 0.05)
        for n in range(KILLS)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda a: _kill_at(root, *a), zip(delays, range(KILLS), strict=True))
        )

    killed_mid_session = []
    for seed, (status, before) in enumerate(results):
        folder = root / "sessions" / f"kill-{seed:02d}"
        if not folder.exists():
            assert before == b""
            continue
        trace = folder / "proc_trace.jsonl"
        after = trace.read_bytes() if trace.exists() else b""
        complete = before[: before.rfind(b"\n") + 1]
        assert after.startswith(complete), f"kill-{seed:02d} lost lines it had written"
        _, skipped = parse_lines(after)
        assert skipped <= 1 and (skipped == 0 or not after.endswith(b"\n"))
        if after:
            assert list(iter_file(trace)).count(None) == skipped
        summary = folder / "summary.json"
        # Whole, never half; "crashed" when a sibling session already recovered it.
        if not summary.exists() or json.loads(summary.read_bytes())["subtype"] == "crashed":
            killed_mid_session.append(folder.name)
        assert status in (0, -signal.SIGKILL)
    index = root / "sessions.jsonl"
    assert parse_lines(index.read_bytes() if index.exists() else b"")[1] == 0  # whole lines

    # A later run finalizes what the kills left; the store API covers folders
    # killed before their trace existed (they wait out a grace period otherwise).
    later = run_traced(root, workload("sleep", 0.1), interval=0.02, extra=("-q",))
    assert later.proc.returncode == 0 and later.stderr == ""
    grace = orphans.STARTING_GRACE_S
    orphans.STARTING_GRACE_S = 0.0
    try:
        LogRoot(root).recover_orphans()
    finally:
        orphans.STARTING_GRACE_S = grace

    folders = [p for p in (root / "sessions").iterdir() if not p.name.startswith(".")]
    index, skipped = parse_lines((root / "sessions.jsonl").read_bytes())
    assert skipped == 0
    by_name = {}
    for record in index:
        assert record["dir_name"] not in by_name, f"{record['dir_name']} indexed twice"
        by_name[record["dir_name"]] = record
    unindexed = {
        p.name: sorted(f.name for f in p.iterdir()) for p in folders if p.name not in by_name
    }
    assert unindexed == {}
    assert sorted(by_name) == sorted(p.name for p in folders)
    for name in killed_mid_session:
        summary = json.loads((root / "sessions" / name / "summary.json").read_text())
        # Killed while ending the session: its pending summary, real outcome and all.
        if summary["subtype"] != "crashed":
            assert summary["subtype"] == "success", name
            continue
        assert summary["termination_reason"].startswith("wrapper_lost"), name
        assert by_name[name]["subtype"] == "crashed"
    assert len(killed_mid_session) >= KILLS // 2, "too few kills landed mid-session"
    for folder in folders:
        assert not list(folder.glob(".*.tmp")), f"temporary file left in {folder}"


def _pending_session(root: Path, name: str) -> dict[str, object]:
    folder = root / "sessions" / name
    folder.mkdir(parents=True)
    start = {"event": "session_start", "session_id": name, "dir_name": name}
    (folder / "proc_trace.jsonl").write_text(json.dumps(start) + "\n")
    summary = {"session_id": name, "dir_name": name, "subtype": "success", "exit_code": 0}
    (folder / ".summary.json.pending").write_text(json.dumps(summary))
    (folder / ".summary.json.999999.tmp").write_text('{"cut')  # a writer killed midway
    return summary


@pytest.mark.parametrize("indexed", [False, True])
def test_death_while_ending_keeps_the_real_outcome_indexed_once(
    log_root: Path, indexed: bool
) -> None:
    """Killed between the pending summary and the rename: recovery completes the ending."""
    summary = _pending_session(log_root, "ending")
    root = LogRoot(log_root)
    if indexed:  # killed after its index line
        append_index(root, summary)
    assert root.recover_orphans() == ["ending"]
    folder = log_root / "sessions" / "ending"
    assert json.loads((folder / "summary.json").read_text()) == summary
    assert sorted(p.name for p in folder.iterdir()) == ["proc_trace.jsonl", "summary.json"]
    index, skipped = parse_lines((log_root / "sessions.jsonl").read_bytes())
    assert skipped == 0 and [r["dir_name"] for r in index] == ["ending"]
    assert index[0]["subtype"] == "success"
    assert root.recover_orphans() == []  # nothing left to do
