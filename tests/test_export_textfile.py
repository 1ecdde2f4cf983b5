"""The textfile target: one bounded, safe file name per command, labels and slot."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from helpers import WORKLOAD_COMMAND, run_traced, start_traced, workload
from promstack import Stack, value

from autoskillit_trace.export.textfile import textfile_name


def test_textfile_name_is_bounded_and_safe() -> None:
    name = textfile_name({"command": "my tool", "host": "h", "slot": "1", "team": "../x"})
    assert name == "autoskillit_trace_my_tool_slot-1_team-.._x.prom"
    assert "/" not in name


def test_textfile_is_written_whole_and_overwritten(tmp_path: Path, log_root: Path) -> None:
    folder = tmp_path / "textfiles"
    folder.mkdir()
    for code in (3, 0):
        traced = run_traced(
            log_root,
            workload("exit", code),
            extra=("--textfile-dir", folder, "--label", "team=infra"),
        )
        assert traced.proc.returncode == code
    files = os.listdir(folder)
    assert files == [
        f"autoskillit_trace_{WORKLOAD_COMMAND}_slot-0_team-infra.prom"
    ]  # no temporaries
    text = (folder / files[0]).read_text()
    assert re.search(r"^autoskillit_trace_session_exit_code\{.*team=\"infra\"\} 0$", text, re.M)


def test_textfile_is_readable_by_a_node_exporter_of_another_user(
    tmp_path: Path, log_root: Path
) -> None:
    folder = tmp_path / "textfiles"
    folder.mkdir()
    proc = start_traced(
        log_root, workload("exit", 0), extra=("--textfile-dir", folder), umask=0o022
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (path,) = folder.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_textfile_is_scraped_by_node_exporter(stack: Stack, log_root: Path) -> None:
    traced = run_traced(
        log_root,
        workload("exit", 0),
        extra=("--textfile-dir", stack.textfile_dir, "--label", "step=lint"),
    )
    assert traced.proc.returncode == 0, traced.stderr
    query = 'autoskillit_trace_session_success{job="node",step="lint"}'
    assert value(stack.wait_query(query)) == 1
