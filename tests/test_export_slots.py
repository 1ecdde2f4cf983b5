"""Session slots: concurrent sessions of one runner get their own, one after another reuse 0."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helpers import run_traced, start_traced, workload
from promstack import Stack

from autoskillit_trace.export.slots import acquire_slot


def test_the_lowest_free_slot_is_taken_and_freed_with_its_fd(tmp_path: Path) -> None:
    first, second = acquire_slot(str(tmp_path)), acquire_slot(str(tmp_path))
    assert first is not None and second is not None
    assert (first[0], second[0]) == (0, 1)
    os.close(first[1])
    again = acquire_slot(str(tmp_path))
    assert again is not None and again[0] == 0
    for _, fd in (second, again):
        os.close(fd)


def test_concurrent_sessions_of_one_runner_do_not_overwrite(stack: Stack, log_root: Path) -> None:
    extra = ("--pushgateway", stack.pushgateway, "--label", "job=parallel")
    procs = [
        start_traced(log_root, workload("sleep", 1.0), extra=extra),
        start_traced(log_root, workload("sleep", 1.0), extra=extra),
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    result = stack.wait_query('autoskillit_trace_session_success{job="parallel"}', count=2)
    assert sorted(r["metric"]["slot"] for r in result) == ["0", "1"]
    run_traced(log_root, workload("exit", 0), extra=extra)  # alone again: slot 0 reused
    time.sleep(1.5)
    assert len(stack.query('autoskillit_trace_session_success{job="parallel"}')) == 2
