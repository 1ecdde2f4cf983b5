"""processes.jsonl: the exit status of each orphan the wrapper reaped itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import Traced, run_traced


def _lines_of(traced: Traced, cmdline: str) -> list[dict[str, Any]]:
    return [x for x in traced.session.processes if x["cmdline"] == cmdline]


def test_an_orphan_that_ends_while_the_command_runs_has_its_status(log_root: Path) -> None:
    """Left by a subshell, it is the wrapper's child (subreaper): its status is known."""
    orphan = "sh -c 'sleep 0.5; exit 3'"
    traced = run_traced(log_root, ["sh", "-c", f"( {orphan} & ); sleep 1.5"], interval=0.1)
    assert traced.proc.returncode == 0, traced.stderr
    (line,) = _lines_of(traced, orphan)
    assert line["exit_status"] == 3
    assert line["last_seen_s"] < traced.session.summary["duration_seconds"] - 0.5  # gone early


def test_an_orphan_stopped_by_kill_orphans_has_its_signal(log_root: Path) -> None:
    traced = run_traced(
        log_root, ["sh", "-c", "sleep 30 & sleep 0.5"], interval=0.1, extra=("--kill-orphans",)
    )
    assert traced.proc.returncode == 0, traced.stderr
    (line,) = _lines_of(traced, "sleep 30")
    assert line["exit_status"] == 128 + 15


def test_a_child_its_parent_reaped_has_none(log_root: Path) -> None:
    child = "sh -c 'sleep 0.4; exit 5'"
    traced = run_traced(log_root, ["sh", "-c", f"{child}; true"], interval=0.1)
    assert traced.proc.returncode == 0, traced.stderr
    (line,) = _lines_of(traced, child)
    assert line["exit_status"] is None
