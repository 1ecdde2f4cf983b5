"""The global index: one whole line per append, whatever the concurrent writers."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import subprocess
import time
from pathlib import Path

from helpers import Session, index_records, prune, tracer

from autoskillit_trace.store.index import (
    INDEX_LOCK_WAIT_S,
    append_index,
    field_needle,
    job_runs,
    newest_records,
)
from autoskillit_trace.store.layout import Layout


def _append_many(root: str, worker: int) -> None:
    for i in range(200):
        append_index(Layout(root), {"dir_name": f"w{worker}-{i}", "pad": "x" * 3000})


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    root = Layout(tmp_path / "logs")
    root.ensure()
    workers = [multiprocessing.Process(target=_append_many, args=(root.path, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lines = Path(root.index).read_text().splitlines()
    assert len(lines) == 800
    assert len({json.loads(line)["dir_name"] for line in lines}) == 800


# --- reading backwards: a job's latest runs -------------------------------------------


def _write_index(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(path)


def _line(**record: object) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def test_newest_records_reads_backwards_and_stops_at_the_limit(tmp_path: Path) -> None:
    # Broken lines at the start: never read, since the limit is met before them.
    lines = [b"{broken"] * 3 + [_line(dir_name=f"s{i}", n=i) for i in range(5000)]
    index = _write_index(tmp_path / "sessions.jsonl", lines)
    records, skipped = newest_records(index, lambda r: r["n"] % 2 == 0, 3)
    assert [r["n"] for r in records] == [4998, 4996, 4994] and skipped == 0
    records, skipped = newest_records(index, lambda r: True, 0)
    assert len(records) == 5000 and skipped == 3


def test_newest_records_keeps_the_newest_line_of_a_folder(tmp_path: Path) -> None:
    lines = [_line(dir_name="a", v=1), _line(dir_name="b", v=1), _line(dir_name="a", v=2)]
    index = _write_index(tmp_path / "sessions.jsonl", lines)
    assert [(r["dir_name"], r["v"]) for r in newest_records(index, lambda r: True, 0)[0]] == [
        ("a", 2),
        ("b", 1),
    ]
    assert newest_records(str(tmp_path / "absent.jsonl"), lambda r: True, 0) == ([], 0)


def test_job_runs_finds_the_job_as_the_index_writes_it(tmp_path: Path) -> None:
    odd = 'python3 <tmp>/job.py --name "é\\x"'
    root = Layout(tmp_path / "logs")
    root.ensure()
    for i in range(30):
        append_index(root, {"dir_name": f"s{i}", "job": odd if i % 3 == 0 else "other", "i": i})
    runs = job_runs(root.index, odd, 4, lambda r: r["i"] != 27)
    assert [r["i"] for r in runs] == [24, 21, 18, 15]
    assert field_needle("job", odd) in Path(root.index).read_bytes()
    assert job_runs(root.index, "nothing", 4) == []


def test_a_lock_that_is_never_let_go_costs_the_wait_not_the_line(
    log_root: Path, env: dict[str, str]
) -> None:
    """A holder of the index lock that never lets go (a stopped prune, someone's
    ``flock``): the wrapper ends after the wait, as the command did, and the next
    prune gives the session its one line."""
    root = Layout(log_root)
    root.ensure()
    holder = os.open(root.lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        argv = tracer("run", "--log-dir", log_root, "--", "sh", "-c", "echo hi; exit 3")
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        waited = time.monotonic() - started
        assert (done.returncode, done.stdout) == (3, "hi\n"), done.stderr
        assert f"{root.lock} held by another process for 10 s" in done.stderr
        assert waited >= INDEX_LOCK_WAIT_S
        assert index_records(log_root) == []
        busy = prune(log_root, env)
        assert busy.returncode == 1
        assert busy.stderr.decode().count("\n") == 1 and b"held by another" in busy.stderr
    finally:
        os.close(holder)
    assert prune(log_root, env).returncode == 0
    (line,) = index_records(log_root)
    (folder,) = (log_root / "sessions").iterdir()
    summary = Session(folder).summary
    assert (line["dir_name"], line["exit_code"], summary["exit_code"]) == (folder.name, 3, 3)
    assert not summary.get("rebuilt")  # the wrapper's own summary, published late
    assert prune(log_root, env).returncode == 0 and len(index_records(log_root)) == 1
