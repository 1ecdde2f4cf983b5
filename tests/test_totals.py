"""The kernel's exact totals of the tree, against GNU time on the same workloads."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import index_records, run_args, run_traced, tracer, workload

from autoskillit_trace.recovery import crashed_summary, replay
from autoskillit_trace.totals import (
    FIELDS,
    NAMES,
    Totals,
    at_floor,
    hiwater_kb,
    log_fields,
    missed_peak,
)
from autoskillit_trace.views import summary_rows

GNU_TIME = "/usr/bin/time"
needs_gnu_time = pytest.mark.skipif(
    not os.access(GNU_TIME, os.X_OK), reason="GNU time is not installed (apt-get install time)"
)
MB = 1024  # KiB
# What `/usr/bin/time -v` calls each total.
GNU_LABELS = {
    "cpu_user_seconds": "User time (seconds)",
    "cpu_system_seconds": "System time (seconds)",
    "max_process_rss_kb": "Maximum resident set size (kbytes)",
    "page_faults_major": "Major (requiring I/O) page faults",
    "page_faults_minor": "Minor (reclaiming a frame) page faults",
    "fs_read_blocks": "File system inputs",
    "fs_write_blocks": "File system outputs",
    "ctx_switches_voluntary_total": "Voluntary context switches",
    "ctx_switches_involuntary_total": "Involuntary context switches",
}
ALLOCATE_300 = "b = bytearray(300 << 20); b[::4096] = b'x' * (len(b) // 4096)"


def gnu_time(command: list[str], tmp: Path) -> dict[str, float]:
    """The totals GNU time reports for ``command``, under the summary's names."""
    out = tmp / "gnu-time.txt"
    proc = subprocess.run([GNU_TIME, "-v", "-o", str(out), *command], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    found = {}
    for name, label in GNU_LABELS.items():
        match = re.search(rf"^\s*{re.escape(label)}: ([0-9.]+)$", text, re.MULTILINE)
        assert match, f"{label} not in {text}"
        found[name] = float(match.group(1))
    return found


def close(ours: float, theirs: float, ratio: float, slack: float) -> bool:
    """Within ``ratio`` of each other, or ``slack`` apart (a busy machine, small figures)."""
    return abs(ours - theirs) <= slack or max(ours, theirs) <= ratio * min(ours, theirs)


# -- on data ----------------------------------------------------------------------


def rusage(**values: float) -> SimpleNamespace:
    """A ``resource.struct_rusage`` as ``wait3`` returns it: zeros but for ``values``."""
    return SimpleNamespace(**{**dict.fromkeys((source for _, source in FIELDS), 0), **values})


def test_sums_every_reaped_child_and_keeps_the_largest_process() -> None:
    totals = Totals()
    assert totals.fields() is None  # nothing reaped: nothing known, never a made-up 0
    totals.add(rusage(ru_utime=1.25, ru_stime=0.5, ru_maxrss=300_000, ru_minflt=10, ru_nvcsw=3))
    totals.add(rusage(ru_utime=0.25, ru_stime=0.25, ru_maxrss=20_000, ru_minflt=5, ru_oublock=8))
    totals.floor_kb = 12_000
    fields = totals.fields()
    assert fields is not None and set(fields) == set(NAMES)
    assert fields["cpu_user_seconds"] == 1.5 and fields["cpu_system_seconds"] == 0.75
    assert fields["max_process_rss_kb"] == 300_000  # one process's, not the sum
    assert fields["page_faults_minor"] == 15 and fields["fs_write_blocks"] == 8
    assert fields["ctx_switches_voluntary_total"] == 3
    assert fields["max_process_rss_floor_kb"] == 12_000


def test_the_exact_peak_leads_only_where_every_snapshot_missed_it() -> None:
    sampled = {"peak_rss_kb": 3000, "peak_tree_rss_kb": 3100, "max_process_rss_floor_kb": 14000}
    short = {**sampled, "max_process_rss_kb": 307_200, "snapshot_count": 1}
    assert missed_peak(short) == 307_200
    rows = dict(summary_rows(short))
    assert rows["Peak RSS"].startswith("300.0 MiB") and "exact" in rows["Peak RSS"]
    assert rows["Sampled RSS"].startswith("2.9 MiB (tree 3.0 MiB)")
    assert list(log_fields(short))[:2] == ["max_process_rss_kb", "peak_tree_rss_kb"]
    # Sampled well: the snapshots lead, the exact figure follows.
    seen = {**short, "peak_tree_rss_kb": 400_000}
    assert missed_peak(seen) is None
    rows = dict(summary_rows(seen))
    assert rows["Peak RSS"].startswith("2.9 MiB (tree 390.6 MiB)")
    assert rows["Largest process"].startswith("300.0 MiB")
    assert list(log_fields(seen))[:2] == ["peak_tree_rss_kb", "max_process_rss_kb"]
    # At the wrapper's own size the kernel cannot tell the command's: never a lead.
    tiny = {**sampled, "max_process_rss_kb": 14000}
    assert at_floor(tiny) and missed_peak(tiny) is None
    assert dict(summary_rows(tiny))["Largest process"].startswith("at most 13.7 MiB")
    # An older summary without totals: as before.
    assert [label for label, _ in summary_rows(sampled)][2:4] == ["Peak RSS", "Peak CPU"]


def test_a_crashed_session_has_no_totals() -> None:
    """Recovery knows only the snapshots: the totals are null, never made up."""
    found = replay("s", [{"event": "session_start", "session_id": "s", "pid": 1}])
    summary = crashed_summary(found)
    assert all(name in summary and summary[name] is None for name in NAMES)


# -- real sessions ----------------------------------------------------------------


def test_a_command_shorter_than_one_interval_gets_its_true_peak(
    log_root: Path, env: dict[str, str]
) -> None:
    step_summary = log_root.parent / "step-summary.md"
    with_summary = {**env, "GITHUB_STEP_SUMMARY": str(step_summary)}
    traced = run_traced(log_root, ["python3", "-c", ALLOCATE_300], interval=60, env=with_summary)
    assert traced.proc.returncode == 0, traced.stderr
    summary = traced.session.summary
    assert summary["snapshot_count"] == 1 and summary["peak_tree_rss_kb"] < 100 * MB
    assert summary["max_process_rss_kb"] >= 300 * MB
    listed = subprocess.run(
        tracer("ls", "--log-dir", log_root, "--json"), capture_output=True, text=True, env=env
    )
    [line] = [json.loads(x) for x in listed.stdout.splitlines()]
    assert line == traced.index()[-1] and all(line[name] == summary[name] for name in NAMES)
    shown = subprocess.run(
        tracer("show", "--log-dir", log_root, summary["dir_name"]),
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    rss_lines = [x for x in shown.stdout.splitlines() if "RSS" in x]
    assert rss_lines[0].startswith("Peak RSS:") and "exact" in rss_lines[0], shown.stdout
    assert float(rss_lines[0].split()[2]) >= 300  # MiB
    assert rss_lines[1].startswith("Sampled RSS:")
    markdown = step_summary.read_text()
    assert markdown.index("| Peak RSS | 3") < markdown.index("| Sampled RSS |")
    assert "exact" in markdown[markdown.index("| Peak RSS |") :].splitlines()[0]
    end = json.loads(traced.stderr.splitlines()[-1])
    assert end["event"] == "session finished" and end["max_process_rss_kb"] >= 300 * MB
    assert list(end).index("max_process_rss_kb") < list(end).index("peak_tree_rss_kb")


@needs_gnu_time
def test_the_totals_are_what_gnu_time_reports(log_root: Path, tmp_path: Path) -> None:
    """A shell running two deterministic workloads, one after the other: the same figures."""
    step = [*workload("account", 40, 3_000_000, 2048, tmp_path)]
    big = [*workload("account", 200, 3_000_000, 4096, tmp_path)]
    command = ["sh", "-c", f"{shlex.join(step)} && {shlex.join(big)}"]
    theirs = gnu_time(command, tmp_path)
    traced = run_traced(log_root, command, interval=0.05)
    assert traced.proc.returncode == 0, traced.stderr
    ours = traced.session.summary
    # The largest process (the 200 MiB one), not the sum of the two.
    assert 200 * MB <= ours["max_process_rss_kb"] < 240 * MB
    assert close(ours["max_process_rss_kb"], theirs["max_process_rss_kb"], 1.1, 4 * MB)
    assert close(ours["cpu_user_seconds"], theirs["cpu_user_seconds"], 1.6, 0.15)
    assert close(ours["cpu_system_seconds"], theirs["cpu_system_seconds"], 2.0, 0.15)
    assert close(ours["page_faults_minor"], theirs["page_faults_minor"], 1.25, 3000)
    assert close(ours["page_faults_major"], theirs["page_faults_major"], 2.0, 200)
    # 6 MiB written with fsync and read back past the page cache: 12288 blocks of 512 bytes,
    # where a disk is below (not on tmpfs).
    for name in ("fs_read_blocks", "fs_write_blocks"):
        assert close(ours[name], theirs[name], 1.25, 1024), name
        assert ours[name] >= 12288 or theirs[name] < 12288, name
    for name in ("ctx_switches_voluntary_total", "ctx_switches_involuntary_total"):
        assert isinstance(ours[name], int) and ours[name] >= 0  # the scheduler's, not comparable


def test_an_orphan_the_wrapper_reaped_counts(log_root: Path) -> None:
    """A grandchild re-parented to the wrapper, between two snapshots: GNU time never sees it."""
    traced = run_traced(log_root, workload("orphan-then-wait", 200), interval=60)
    assert traced.proc.returncode == 0, traced.stderr
    summary = traced.session.summary
    assert summary["max_process_rss_kb"] >= 200 * MB
    assert summary["peak_tree_rss_kb"] < 100 * MB  # the one snapshot came before


def test_orphans_stopped_by_kill_orphans_count_those_left_running_do_not(tmp_path: Path) -> None:
    """The wrapper reaps what --kill-orphans stops; one it leaves behind no one has reaped."""
    for extra, counted in ((("--kill-orphans", "--kill-grace", "0.5"), True), ((), False)):
        root = tmp_path / f"logs-{counted}"
        traced = run_traced(root, workload("orphan-then-wait", 200, "yes"), extra=extra)
        orphan = int(traced.stdout)
        try:
            summary = traced.session.summary
            assert [o["pid"] for o in summary["orphans"]] == [orphan]
            assert (summary["max_process_rss_kb"] >= 200 * MB) is counted
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)


def test_the_floor_is_the_wrapper_s_own_size_not_that_of_who_started_it(
    log_root: Path, env: dict[str, str]
) -> None:
    """Started by a 300 MB process, the wrapper's own maxrss holds that process's peak;
    the floor of the command's figure is the wrapper's memory alone."""
    allocate_100 = ALLOCATE_300.replace("300", "100")
    argv = tracer(*run_args(log_root, 60, ()), "--", "python3", "-c", allocate_100)
    big_parent = f"{ALLOCATE_300}\nimport subprocess\nsubprocess.run({[str(a) for a in argv]!r})"
    proc = subprocess.run([sys.executable, "-c", big_parent], capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    [line] = index_records(log_root)
    assert line["max_process_rss_floor_kb"] < 100 * MB <= line["max_process_rss_kb"] < 300 * MB
    assert missed_peak(line) == line["max_process_rss_kb"]
    assert hiwater_kb(b"VmRSS:\t 9 kB\nVmHWM:\t  12345 kB\nThreads: 1\n") == 12345


def test_what_the_shell_reaped_before_it_became_the_wrapper_does_not_count(
    log_root: Path, env: dict[str, str]
) -> None:
    """``sh -c 'big; exec autoskillit-trace run -- true'``: the process's own
    RUSAGE_CHILDREN survives the exec and holds ``big``; the session's totals do not."""
    wrapper = shlex.join(tracer("run", "--log-dir", log_root, "--", "true"))
    script = f"{shlex.join(['python3', '-c', ALLOCATE_300])} && exec {wrapper}"
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in (log_root / "sessions.jsonl").read_text().splitlines()]
    assert lines[-1]["max_process_rss_kb"] < 100 * MB


def test_a_command_that_never_ran_has_no_totals(log_root: Path) -> None:
    traced = run_traced(log_root, ["no-such-command-zz"])
    assert traced.proc.returncode == 127
    summary = traced.session.summary
    assert summary["subtype"] == "spawn_failed"
    assert all(summary[name] is None for name in NAMES)
