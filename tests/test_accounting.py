"""Per-process accounting: the ledger on data, then real trees through the real wrapper."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    Session,
    crash_wrapper,
    prune,
    run_traced,
    start_traced,
    wait_for,
    wait_for_snapshots,
    workload,
)

from autoskillit_trace.accounting import CMDLINE_LIMIT, Accounting, Top, summarize
from autoskillit_trace.proctree import ProcStat


def stat(pid: int, start: int = 1, *, ppid: int = 1, comm: str = "p", rss: int = 100,
         ticks: int = 0, threads: int = 1) -> ProcStat:  # fmt: skip
    return ProcStat(pid, comm, "sleeping", ppid, ticks, threads, rss, start)


def tree(*stats: ProcStat) -> dict[int, ProcStat]:
    return {s.pid: s for s in stats}


def ledger(reads: list[int] | None = None, **kwargs: Any) -> Accounting:
    """A ledger whose command lines are "cmd PID", each read noted in ``reads``."""

    def cmdline_of(pid: int) -> str:
        if reads is not None:
            reads.append(pid)
        return f"cmd {pid}"

    return Accounting(kwargs.pop("root", 10), cmdline_of, 100, **kwargs)


def test_a_process_is_one_line_when_it_leaves_with_its_peaks() -> None:
    book = ledger()
    assert book.update(tree(stat(10), stat(11, rss=500, ticks=5, threads=1)), 0.5) == []
    assert book.update(tree(stat(10), stat(11, rss=900, ticks=50, threads=4)), 1.0) == []
    assert book.update(tree(stat(10), stat(11, rss=300, ticks=80, threads=2)), 1.5) == []
    (line,) = book.update(tree(stat(10)), 2.0)
    assert line == {
        "pid": 11,
        "ppid": 1,
        "comm": "p",
        "cmdline": "cmd 11",
        "first_seen_s": 0.5,
        "last_seen_s": 1.5,
        "peak_rss_kb": 900,
        "cpu_seconds": 0.8,  # at its last sight
        "peak_threads": 4,
        "exit_status": None,
        "tool_use_id": None,
        "tool_use_ids": [],
        "shared": False,
    }
    assert list(book.alive) == [10]


def test_an_unchanged_reading_still_counts_as_a_sighting() -> None:
    """The tree finder gives back the same record for an unchanged stat line: the
    process was still seen, at every snapshot, until the one it is missing from."""
    book = ledger()
    root, idle, other = stat(10), stat(11, rss=700), stat(12, rss=100)
    for elapsed in (0.5, 1.0, 1.5):
        assert book.update(tree(root, idle, other), elapsed) == []
    (line,) = book.update(tree(root, other), 2.0)
    assert (line["pid"], line["first_seen_s"], line["last_seen_s"]) == (11, 0.5, 1.5)
    assert line["peak_rss_kb"] == 700
    book.update(tree(other), 2.5)  # the command is gone from the tree: its sighting stays
    lines = {line["pid"]: line for line in book.finish(exit_status=0)}
    assert lines[12]["last_seen_s"] == 2.5
    assert (lines[10]["last_seen_s"], lines[10]["exit_status"]) == (2.0, 0)


def test_the_command_waits_for_the_end_and_gets_its_exit_status() -> None:
    book = ledger(root_cmdline="the command as started")
    book.update(tree(stat(10), stat(11)), 0.1)
    (gone,) = book.update({}, 0.2)  # the command is reaped at the end, not here
    assert gone["pid"] == 11 and list(book.alive) == [10]
    (line,) = book.finish(exit_status=3)
    assert line["pid"] == 10 and line["exit_status"] == 3
    assert line["cmdline"] == "the command as started"  # not read: it may not have exec'd yet
    assert book.count == 2 and book.alive == {}


def test_a_reused_pid_is_another_process() -> None:
    book = ledger()
    book.update(tree(stat(10), stat(11, start=100, comm="first", rss=900)), 0.1)
    (old,) = book.update(tree(stat(10), stat(11, start=200, comm="second", rss=50)), 0.2)
    assert old["comm"] == "first" and old["peak_rss_kb"] == 900
    lines = book.finish()
    new = next(line for line in lines if line["pid"] == 11)
    assert new["comm"] == "second" and new["peak_rss_kb"] == 50 and new["first_seen_s"] == 0.2
    assert book.count == 3


def test_the_command_line_is_read_once_per_program() -> None:
    reads: list[int] = []
    book = ledger(reads)
    for at in range(5):
        book.update(tree(stat(10), stat(11, comm="bash")), at)
    book.update(tree(stat(10), stat(11, comm="python3")), 5)  # exec'd: another program
    book.update(tree(stat(10), stat(11, comm="python3")), 6)
    assert reads == [10, 11, 11]


def test_a_fork_seen_before_its_exec_is_read_again() -> None:
    """Its parent's command line at first; the program's once it exec'd, same comm or not."""
    lines = {10: "python3 main.py", 11: "python3 main.py"}
    reads: list[int] = []

    def cmdline_of(pid: int) -> str:
        reads.append(pid)
        return lines[pid]

    book = Accounting(None, cmdline_of)
    book.update(tree(stat(10, comm="python3"), stat(11, ppid=10, comm="python3")), 0.1)
    lines[11] = "python3 worker.py"  # exec'd between the snapshots, comm unchanged
    for at in (0.2, 0.3, 0.4):
        book.update(tree(stat(10, comm="python3"), stat(11, ppid=10, comm="python3")), at)
    assert book.cmdline(11) == "python3 worker.py"
    assert reads == [10, 11, 11]  # once more, not at every snapshot


def test_memory_holds_only_the_live_processes() -> None:
    book = ledger()
    written = 0
    for n in range(100_000):  # a build that starts 100,000 compilers, one per snapshot
        written += len(book.update(tree(stat(10), stat(1000 + n % 30_000, start=n)), n / 100))
        assert len(book.alive) <= 2
    assert written == 99_999 and book.count == 100_001
    assert len(book.top.processes()) <= 10


def test_processes_first_seen_during_calls_belong_to_them() -> None:
    book = ledger()
    book.update(tree(stat(10)), 0.1)
    book.update(tree(stat(10), stat(11)), 0.2, ("toolu_a",))
    book.update(tree(stat(10), stat(11), stat(12)), 0.3, ("toolu_a", "toolu_b"))
    book.update(tree(stat(10), stat(11), stat(12), stat(13)), 0.4)
    lines = {line["pid"]: line for line in book.finish()}
    assert lines[10]["tool_use_id"] is None and lines[10]["tool_use_ids"] == []
    assert lines[11]["tool_use_id"] == "toolu_a" and not lines[11]["shared"]
    assert lines[12]["tool_use_id"] is None
    assert lines[12]["tool_use_ids"] == ["toolu_a", "toolu_b"] and lines[12]["shared"]
    assert lines[13]["tool_use_ids"] == [] and book.started == 1


def test_top_lists_five_by_memory_then_five_by_cpu_once_each() -> None:
    top = Top()
    for pid in range(20):
        rss, cpu = (pid * 10, 0.0) if pid < 10 else (1, float(pid))
        top.feed({"pid": pid, "comm": "p", "peak_rss_kb": rss, "cpu_seconds": cpu})
    top.feed({"pid": 99, "comm": "both", "peak_rss_kb": 10_000, "cpu_seconds": 100.0})
    pids = [p["pid"] for p in top.processes()]
    assert pids == [99, 9, 8, 7, 6, 19, 18, 17, 16]  # 99 once, though first in both
    assert list(top.processes()[0]) == [
        "pid", "comm", "cmdline", "peak_rss_kb", "cpu_seconds", "first_seen_s", "last_seen_s",
    ]  # fmt: skip


def test_summarize_reads_what_was_written_and_skips_cut_lines() -> None:
    lines = [{"pid": 1, "peak_rss_kb": 5, "cpu_seconds": 0.1}, None, {"pid": 2, "peak_rss_kb": 7}]
    found = summarize(lines)
    assert found["process_count"] == 2
    assert [p["pid"] for p in found["top_processes"]] == [2, 1]


def test_long_command_lines_are_cut() -> None:
    book = Accounting(None, lambda pid: "x" * 5000)
    book.update(tree(stat(11)), 0.1)
    (line,) = book.finish()
    assert len(line["cmdline"]) == CMDLINE_LIMIT and line["cmdline"].endswith("…")


# -- real trees -----------------------------------------------------------------

PY = sys.executable
SMALL_HOG = f"{PY} -c 'x = bytearray(30 << 20); import time; time.sleep(0.5)'"


def _hog_among_siblings() -> list[str]:
    """Four small sleepers and one process holding 150 MB, all for about a second."""
    small = f"{PY} -c 'import time; time.sleep(1.2)'"
    hog = f"{PY} -c 'x = bytearray(150 << 20); import time; time.sleep(1.2)'"
    return ["bash", "-c", f"{small} & {small} & {hog} & {small} & {small} & wait"]


def test_the_hog_tops_the_processes(log_root: Path) -> None:
    traced = run_traced(log_root, _hog_among_siblings(), interval=0.1)
    assert traced.proc.returncode == 0, traced.stderr
    session = traced.session
    summary = session.summary
    top = summary["top_processes"][0]
    assert "bytearray(150 << 20)" in top["cmdline"] and top["peak_rss_kb"] > 150 * 1024
    lines = session.processes
    pythons = [line for line in lines if (line["cmdline"] or "").startswith(PY)]
    assert len(pythons) == 5
    small = [line for line in pythons if "bytearray" not in line["cmdline"]]
    assert len(small) == 4 and all(line["peak_rss_kb"] < 100 * 1024 for line in small)
    assert (
        summary["process_count"]
        == len(lines)
        == len({(x["pid"], x["first_seen_s"]) for x in lines})
    )
    (command,) = [line for line in lines if line["exit_status"] is not None]
    assert command["exit_status"] == 0 and command["cmdline"] == summary["skill_command"]
    index = traced.index()[0]
    assert index["process_count"] == summary["process_count"]
    for snapshot in session.snapshots:
        if snapshot["vm_rss_kb"] is not None:
            assert snapshot["tree_rss_kb"] >= snapshot["vm_rss_kb"]


def test_a_process_between_two_snapshots_is_seen_once(log_root: Path) -> None:
    """Born after one snapshot, gone once the next is written: one line, its one sighting."""
    short = shlex.join(workload("next-snapshot", "between"))
    traced = run_traced(log_root, ["bash", "-c", f"sleep 0.3; {short}; sleep 0.3"], interval=0.2)
    assert traced.proc.returncode == 0, traced.stderr
    (child,) = [x for x in traced.session.processes if (x["cmdline"] or "").endswith("between")
                and x["exit_status"] is None]  # fmt: skip
    assert "next-snapshot" in child["cmdline"]
    assert child["first_seen_s"] <= child["last_seen_s"]


def test_a_reused_pid_is_two_lines(log_root: Path) -> None:
    """The same pid given to a second process (by ns_last_pid, where we may write it)."""
    traced = run_traced(log_root, workload("reuse-pid", 0.6), interval=0.1)
    assert traced.proc.returncode == 0, traced.stderr
    if traced.stdout.strip() != "reused":
        pytest.skip("cannot choose the next pid here (/proc/sys/kernel/ns_last_pid)")
    lines = [x for x in traced.session.processes if "time.sleep(0.6)" in (x["cmdline"] or "")]
    (pid,) = {x["pid"] for x in lines if x["cmdline"].endswith("first")}
    # Tries whose pid another process took first are lines of other pids.
    first, second = sorted((x for x in lines if x["pid"] == pid), key=lambda x: x["first_seen_s"])
    assert first["cmdline"].endswith("first") and second["cmdline"].endswith("second")
    assert first["last_seen_s"] < second["first_seen_s"]


def test_churn_keeps_the_ledger_flat(log_root: Path, tmp_path: Path) -> None:
    """Thousands of short processes: every one that a snapshot saw is one line, none twice,
    and the wrapper's peak memory stays within 2 MB of a quiet session's."""
    peak = "grep VmHWM /proc/$PPID/status > {}"  # the wrapper's peak RSS, read by the command
    churn = " ".join(workload("churn", 3, 4, 0.02))
    busy = run_traced(log_root, ["bash", "-c", f"{churn}; {peak.format(tmp_path / 'busy')}"],
                      interval=0.01, timeout=120)  # fmt: skip
    still = f"sleep 3; {peak.format(tmp_path / 'quiet.kb')}"
    quiet = run_traced(tmp_path / "quiet", ["bash", "-c", still], interval=0.01)
    assert busy.proc.returncode == 0 and quiet.proc.returncode == 0, busy.stderr
    lines = busy.session.processes
    assert len(lines) > 100
    keys = [(x["pid"], x["first_seen_s"]) for x in lines]
    assert len(keys) == len(set(keys))
    assert busy.session.summary["process_count"] == len(lines)
    assert _kb(tmp_path / "busy") - _kb(tmp_path / "quiet.kb") < 2048


def _kb(path: Path) -> int:
    return int(path.read_text().split()[1])


def test_a_zombie_anomaly_names_the_parent_that_does_not_reap_it(log_root: Path) -> None:
    traced = run_traced(log_root, workload("zombie", 2.5), interval=0.2)
    assert traced.proc.returncode == 0, traced.stderr
    session = traced.session
    (anomaly, *_) = [a for a in session.anomalies if a["kind"] == "zombie_detected"]
    detail, command = anomaly["detail"], session.summary["pid"]
    assert detail["comm"] == anomaly["snapshot"]["comm"]  # a fork of the command's program
    assert detail["parent_pid"] == command and detail["parent_comm"] == detail["comm"]
    assert anomaly["pid"] == detail["zombie_pid"] != command
    assert session.anomalies == session.replayed()  # the trace holds the names too


def test_a_crashed_session_keeps_the_lines_it_wrote(log_root: Path, env: dict[str, str]) -> None:
    """Killed mid-session: the processes that had left have their lines, once; recovery
    counts them and finds the top among them."""
    command = f"{SMALL_HOG}; sleep 30"
    proc = start_traced(log_root, ["bash", "-c", command], interval=0.1)
    folder = wait_for_snapshots(log_root, 1)
    hog_line = lambda: any("bytearray" in x["cmdline"] for x in Session(folder).processes)  # noqa: E731
    wait_for(hog_line, what="the hog's line")
    written = Session(folder).processes
    crash_wrapper(proc, folder)
    done = prune(log_root, env)
    assert done.returncode == 0, done.stderr
    session = Session(folder)
    assert session.processes == written  # nothing added, nothing twice
    summary = session.summary
    assert summary["subtype"] == "crashed" and summary["process_count"] == len(written)
    assert "bytearray(30 << 20)" in summary["top_processes"][0]["cmdline"]
