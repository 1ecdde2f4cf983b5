"""The global index: one whole line per append, whatever the concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from autoskillit_trace.store.index import append_index, field_needle, job_runs, newest_records
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
