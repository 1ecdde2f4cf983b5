"""The global index: one whole line per append, whatever the concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from autoskillit_trace.store.index import append_index
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
