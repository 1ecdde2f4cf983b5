"""32 sessions at once beside a prune loop: one index line per session, no torn folders."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

from helpers import clean_env, start_traced, workload

from autoskillit_trace.jsonl import parse_lines
from autoskillit_trace.store.root import LogRoot

SESSIONS = 32

PRUNE_LOOP = """
import sys, time
from pathlib import Path
from autoskillit_trace.store.root import LogRoot
root, stop = LogRoot(Path(sys.argv[1])), Path(sys.argv[2])
rounds = removed = 0
while not stop.exists():
    removed += len(root.prune(keep=6).removed)
    rounds += 1
    time.sleep(0.005)
print(rounds, removed)
"""


def test_many_sessions_beside_a_prune_loop(tmp_path: Path, log_root: Path) -> None:
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS="10")
    stop = tmp_path / "stop"
    log_root.mkdir(mode=0o700)
    pruner = subprocess.Popen(
        [sys.executable, "-c", PRUNE_LOOP, str(log_root), str(stop)],
        stdout=subprocess.PIPE,
        env=env,
    )
    wrappers = []
    for n in range(SESSIONS):
        # Half of them ask for the same session id: each must still get its own folder.
        extra = ("--session-id", "same") if n % 2 else ()
        command = workload("exit", n % 5) if n % 4 == 0 else workload("sleep", 0.05 + n % 7 / 20)
        wrappers.append(start_traced(log_root, command, interval=0.02, extra=extra, env=env))
    outcomes = [(p.wait(timeout=120), p.stdout, p.stderr) for p in wrappers]
    time.sleep(0.1)
    stop.touch()
    rounds, removed = map(int, pruner.communicate(timeout=60)[0].split())
    assert rounds > 10 and removed > 0, (rounds, removed)

    lives: dict[str, list[tuple[str, str]]] = {}  # folder -> (started, finished) of each user
    for n, (status, out, err) in enumerate(outcomes):
        assert out is not None and err is not None
        assert status == (n % 5 if n % 4 == 0 else 0)
        lines = [json.loads(x) for x in err.read().decode().splitlines()]
        assert not [x for x in lines if x["event"] == "tracing fault"], lines
        started, finished = lines[0], lines[-1]
        assert started["folder"] == finished["folder"]
        lives.setdefault(started["folder"], []).append(
            (started["timestamp"], finished["timestamp"])
        )
    for folder, spans in lives.items():  # a name is reused only after a prune freed it
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end < start, f"two sessions used {folder} at the same time"

    LogRoot(log_root).prune(keep=6)  # a last round, after every session finished
    sessions = log_root / "sessions"
    assert not [p for p in sessions.iterdir() if p.name.startswith(".")], "trash left behind"
    remaining = sorted(p.name for p in sessions.iterdir())
    assert len(remaining) == 6
    for name in remaining:  # whole folders only
        folder = sessions / name
        assert (folder / "summary.json").exists() and (folder / "proc_trace.jsonl").exists()
        starts = [
            r
            for r in parse_lines((folder / "proc_trace.jsonl").read_bytes())[0]
            if r.get("event") == "session_start"
        ]
        assert len(starts) == 1 and starts[0]["dir_name"] == name
    index, skipped = parse_lines((log_root / "sessions.jsonl").read_bytes())
    assert skipped == 0
    assert sorted(r["dir_name"] for r in index) == remaining  # one line each, none for removed
