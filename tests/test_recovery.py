"""Crash recovery: a wrapper killed mid-session is finalized as crashed, nothing lost."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import (
    FIXTURES,
    Session,
    crash_wrapper,
    folders,
    index_records,
    prune,
    run_traced,
    start_traced,
    tracer,
    wait_for_snapshots,
    workload,
)

from autoskillit_trace.detect import detect
from autoskillit_trace.store.layout import SUMMARY


def _crashed_session(log_root: Path, cut_line: bytes = b'{"ts":"2026-11-22T1') -> Path:
    """A real session whose wrapper was SIGKILLed after streaming an anomaly."""
    proc = start_traced(log_root, workload("oom", 0.2, 60), interval=0.1)
    folder = wait_for_snapshots(log_root, 6)
    crash_wrapper(proc, folder)
    with open(folder / "proc_trace.jsonl", "ab") as handle:
        handle.write(cut_line)  # the crash cut the last line in half
    assert not (folder / SUMMARY).exists()
    return folder


def _assert_recovered(folder: Path, root: Path) -> None:
    session = Session(folder)
    summary = session.summary
    assert summary["subtype"] == "crashed"
    assert summary["success"] is False and summary["exit_code"] is None
    assert summary["termination_reason"].startswith("wrapper_lost: wrapper process ")
    assert summary["termination_reason"].endswith("ended without finishing the session")
    lines = (folder / "proc_trace.jsonl").read_bytes().split(b"\n")
    whole = [json.loads(x) for x in lines[:-1]]  # everything but the cut line
    snapshots = [r for r in whole if r["event"] == "snapshot"]
    assert summary["snapshot_count"] == len(snapshots) >= 6
    assert summary["peak_oom_score"] >= 800
    assert "oom_critical" in session.kinds
    command = whole[0]["skill_command"]  # anomalies of the command name it
    assert session.anomalies == [a.to_record() for a in detect(snapshots, command_line=command)]
    assert summary["anomaly_count"] == len(session.anomalies)
    mine = [r for r in index_records(root) if r["dir_name"] == folder.name]
    assert len(mine) == 1 and mine[0]["subtype"] == "crashed"


def test_sigkilled_wrapper_is_recovered_by_the_next_run(log_root: Path) -> None:
    folder = _crashed_session(log_root)
    traced = run_traced(log_root, workload("sleep", 0.3), interval=0.1)
    assert traced.proc.returncode == 0
    _assert_recovered(folder, log_root)
    assert len(index_records(log_root)) == 2
    assert not list((log_root / ".running").iterdir())  # both markers gone with their sessions


def test_run_recovers_only_sessions_marked_running(log_root: Path, env: dict[str, str]) -> None:
    """A store of any size costs ``run`` nothing to search: it looks at the markers.

    ``prune`` looks at every folder, so a crashed one that lost its marker
    (or was copied in without it) is still finalized there.
    """
    folder = _crashed_session(log_root)
    marker = log_root / ".running" / folder.name
    assert marker.exists()
    marker.unlink()
    run_traced(log_root, workload("sleep", 0.3), interval=0.1)
    assert not (folder / SUMMARY).exists()
    done = prune(log_root, env)
    assert done.returncode == 0
    _assert_recovered(folder, log_root)


def test_stale_running_markers_are_cleared(log_root: Path) -> None:
    run_traced(log_root, ["true"], extra=("--session-id", "done"))
    running = log_root / ".running"
    (running / "done").touch()  # its wrapper died between summary.json and this
    (running / "never-made").touch()  # died between the marker and the folder
    an_hour_ago = time.time() - 3600
    os.utime(running / "never-made", (an_hour_ago, an_hour_ago))
    (running / "being-made").touch()  # a session starting right now
    run_traced(log_root, ["true"])
    assert sorted(p.name for p in running.iterdir()) == ["being-made"]


def test_sigkilled_wrapper_is_recovered_by_prune(log_root: Path, env: dict[str, str]) -> None:
    folder = _crashed_session(log_root)
    dry = prune(log_root, env, "--dry-run")
    assert dry.returncode == 0
    assert f"would finalize crashed session {folder.name}" in dry.stdout.decode()
    assert not (folder / SUMMARY).exists()  # a dry run writes nothing
    proc = prune(log_root, env, "--log-format", "json")
    assert proc.returncode == 0 and proc.stdout == b""
    log = json.loads(proc.stderr)
    assert log["event"] == "prune finished" and log["crashed_recovered"] == 1
    _assert_recovered(folder, log_root)
    again = prune(log_root, env)
    assert again.returncode == 0 and again.stdout == again.stderr == b""  # nothing to do
    assert len(index_records(log_root)) == 1


def _strict_json(data: str) -> object:
    """JSON as the standard has it: NaN, Infinity and -Infinity are no numbers."""

    def refuse(token: str) -> object:
        raise ValueError(f"{token} is not standard JSON")

    return json.loads(data, parse_constant=refuse)


def test_infinities_in_a_crashed_trace_are_recovered_as_null(
    log_root: Path, env: dict[str, str]
) -> None:
    """A damaged trace's NaN and infinities: unknown in the summary, the index and the
    anomalies, as standard JSON; the finite figures are kept."""
    folder = _crashed_session(log_root)
    trace = folder / "proc_trace.jsonl"
    *whole, cut = trace.read_bytes().split(b"\n")
    lines = [json.loads(x) for x in whole]
    lines[0].update(pid=math.nan, snapshot_interval_seconds=math.inf)
    lines[1].update(tree_rss_kb=math.inf, fd_soft_limit=1e-320)  # 5 / 1e-320 overflows
    lines[2].update(tree_cpu_percent=-math.inf, vm_rss_kb=math.nan)
    trace.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in lines) + cut)
    done = prune(log_root, env)
    assert done.returncode == 0, done.stderr
    summary = _strict_json((folder / SUMMARY).read_text())
    assert isinstance(summary, dict) and summary["subtype"] == "crashed"
    assert summary["pid"] is None and summary["snapshot_interval_seconds"] is None
    assert summary["peak_fd_ratio"] is None
    assert isinstance(summary["peak_tree_rss_kb"], int) and summary["peak_tree_rss_kb"] > 0
    index = (log_root / "sessions.jsonl").read_text().splitlines()
    assert [_strict_json(x) for x in index] == [{k: summary[k] for k in json.loads(index[0])}]
    for line in (folder / "anomalies.jsonl").read_text().splitlines():
        _strict_json(line)


def test_a_summary_rebuilt_from_an_index_line_with_infinities_has_null(
    log_root: Path, env: dict[str, str]
) -> None:
    folder = run_traced(log_root, workload("sleep", 0.3)).session.folder
    index = log_root / "sessions.jsonl"
    line = json.loads(index.read_text())
    line.update(duration_seconds=math.nan, peak_tree_rss_kb=math.inf)
    index.write_text(json.dumps(line) + "\n")
    (folder / SUMMARY).unlink()
    done = prune(log_root, env)
    assert done.returncode == 0, done.stderr
    summary = _strict_json((folder / SUMMARY).read_text())
    assert isinstance(summary, dict) and summary["rebuilt"] is True
    assert summary["duration_seconds"] is None and summary["peak_tree_rss_kb"] is None


def test_live_session_is_never_touched(log_root: Path, env: dict[str, str]) -> None:
    proc = start_traced(log_root, workload("sleep", 60), interval=0.1)
    folder = wait_for_snapshots(log_root, 2)
    for args in (("prune", "--keep", "0"), ("prune", "--older-than", "0s")):
        done = subprocess.run(tracer(*args, "--log-dir", log_root), capture_output=True, env=env)
        assert done.returncode == 0
        assert folder.exists() and not (folder / SUMMARY).exists()
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)  # forwarded to the command: the session ends
    proc.communicate(timeout=30)
    assert Session(folder).summary["subtype"] == "signaled"
    assert [r["dir_name"] for r in index_records(log_root)] == [folder.name]


def test_wrapper_pid_reused_and_reboot_are_told_apart(tmp_path: Path) -> None:
    import os

    from autoskillit_trace.proctree import process_start_ticks, read_boot_id
    from autoskillit_trace.recovery import why_lost

    me = os.getpid()
    reused = {"wrapper_pid": me, "wrapper_start_ticks": -1, "boot_id": read_boot_id()}
    assert "now belongs to another process" in why_lost(reused)
    rebooted = {"wrapper_pid": me, "boot_id": "another-boot"}
    assert "rebooted" in why_lost(rebooted)
    same = {"wrapper_pid": me, "wrapper_start_ticks": process_start_ticks(me)}
    assert "ended without finishing" in why_lost(same)


# -- a published session whose summary.json was lost or damaged ----------------------------

DAMAGE = {
    "deleted": None,
    "empty": b"",
    "cut short": b'{\n  "schema_version": 1,\n  "session_id": "pid-',
    "not JSON": b"\x00\x01 not json at all\n",
    "not an object": b"[1, 2, 3]\n",
}


def _damage(folder: Path, how: str) -> None:
    data = DAMAGE[how]
    if data is None:
        (folder / SUMMARY).unlink()
    else:
        (folder / SUMMARY).write_bytes(data)


def _show(root: Path, env: dict[str, str], name: str) -> str:
    proc = subprocess.run(
        tracer("show", "--log-dir", root, name), capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _listed(root: Path, env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        tracer("ls", "--log-dir", root, "--json"), capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [json.loads(line)["dir_name"] for line in proc.stdout.splitlines()]


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_lost_summary_is_rebuilt_by_prune_without_a_second_index_line(
    log_root: Path, env: dict[str, str], how: str
) -> None:
    damaged = run_traced(log_root, workload("oom", 0.2, 0.5, 3), interval=0.1).session.folder
    other = run_traced(log_root, ["true"]).sessions()
    published = Session(damaged).summary
    assert published["anomaly_count"] >= 1 and published["exit_code"] == 3
    _damage(damaged, how)
    if how != "deleted":
        assert "summary.json cannot be read; 'autoskillit-trace prune' rebuilds it" in _show(
            log_root, env, damaged.name
        )
    done = prune(log_root, env)
    assert done.returncode == 0, done.stderr
    assert [r["dir_name"] for r in index_records(log_root)] == [
        damaged.name,
        *(s.folder.name for s in other if s.folder != damaged),
    ]
    assert Session(damaged).summary == {**published, "rebuilt": True}
    assert sorted(_listed(log_root, env)) == sorted(folders(log_root))
    shown = _show(log_root, env, damaged.name)
    assert "unfinished" not in shown and "cannot be read" not in shown
    assert "failed (exit 3)" in shown
    again = prune(log_root, env)
    assert again.returncode == 0 and again.stderr == b""  # nothing left to do
    assert len(index_records(log_root)) == 2


def test_a_rebuilt_agent_summary_has_its_tool_calls_again(
    log_root: Path, env: dict[str, str]
) -> None:
    """The time per tool, the slowest calls and the calls per tool (``tool_calls``, which
    the index line does not hold) come back from events.jsonl."""
    stream = FIXTURES / "claude_2.1.332_two_tools.jsonl"
    traced = run_traced(log_root, workload("replay", stream, "0.02"), extra=("--agent-events",))
    folder = traced.session.folder
    published = Session(folder).summary
    assert published["slowest_tool_calls"] and published["tool_calls"]
    (folder / SUMMARY).unlink()
    done = prune(log_root, env)
    assert done.returncode == 0, done.stderr
    assert Session(folder).summary == {**published, "rebuilt": True}


def test_a_lost_summary_of_a_marked_session_is_rebuilt_by_the_next_run(log_root: Path) -> None:
    """``run`` looks at the marked sessions only; one of them with its line gets no second."""
    folder = run_traced(log_root, workload("exit", 3)).session.folder
    published = Session(folder).summary
    (folder / SUMMARY).write_bytes(DAMAGE["cut short"])
    (log_root / ".running" / folder.name).touch()  # died before it removed its marker
    assert run_traced(log_root, ["true"]).proc.returncode == 0
    assert Session(folder).summary == {**published, "rebuilt": True}
    assert [r["dir_name"] for r in index_records(log_root)].count(folder.name) == 1
    assert len(index_records(log_root)) == 2
    assert not list((log_root / ".running").iterdir())


def test_a_running_session_with_a_damaged_summary_is_never_touched(
    log_root: Path, env: dict[str, str]
) -> None:
    proc = start_traced(log_root, workload("sleep", 60), interval=0.1)
    folder = wait_for_snapshots(log_root, 2)
    (folder / SUMMARY).write_bytes(b"{")  # someone wrote into a live session's folder
    done = prune(log_root, env)
    assert done.returncode == 0
    assert (folder / SUMMARY).read_bytes() == b"{" and index_records(log_root) == []
    assert "running (no summary yet)" in _show(log_root, env, folder.name)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert Session(folder).summary["subtype"] == "signaled"
    assert [r["dir_name"] for r in index_records(log_root)] == [folder.name]


def test_a_crash_in_a_reused_folder_name_is_not_taken_for_the_old_line(
    log_root: Path, env: dict[str, str]
) -> None:
    """A folder deleted by hand leaves its line; a new session of that name that crashes
    is finalized as crashed, not rebuilt from the old session's line."""
    import shutil

    old = run_traced(log_root, ["true"], extra=("--session-id", "job")).session.folder
    shutil.rmtree(old)
    proc = start_traced(
        log_root, workload("sleep", 60), interval=0.1, extra=("--session-id", "job")
    )
    folder = wait_for_snapshots(log_root, 2)
    assert folder.name == "job"
    crash_wrapper(proc, folder)
    done = prune(log_root, env)
    assert done.returncode == 0
    assert Session(folder).summary["subtype"] == "crashed"
    assert [r["subtype"] for r in index_records(log_root)] == ["success", "crashed"]
    assert _listed(log_root, env) == ["job"]  # the newest line of the folder
