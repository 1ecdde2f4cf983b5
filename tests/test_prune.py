"""``autoskillit-trace prune``: quiet, scriptable retention for cron and CI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import folders, index_records, run_traced, tracer, workload

from autoskillit_trace.commands.prune import dry_run_lines


def prune(root: Path, env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    argv = tracer("prune", "--log-dir", root, "--log-format", "json", *args)
    return subprocess.run(argv, capture_output=True, text=True, env=env)


def _sessions(root: Path, count: int) -> list[str]:
    for _ in range(count):
        run_traced(root, workload("sleep", 0), interval=30)
    return [r["dir_name"] for r in index_records(root)]


def test_json_report_and_log_line(log_root: Path, env: dict[str, str]) -> None:
    names = _sessions(log_root, 3)
    dry = prune(log_root, env, "--keep", 1, "--dry-run", "--json")
    assert dry.returncode == 0
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["sessions_removed"] == 2
    assert folders(log_root) == set(names)
    done = prune(log_root, env, "--keep", 1, "--json")
    report = json.loads(done.stdout)
    assert sorted(report["removed"]) == sorted(names[:2])
    assert report["sessions_before"] == 3 and report["sessions_after"] == 1
    assert report["bytes_freed"] > 0 and report["keep"] == 1
    assert report["crashed_recovered"] == [] and report["log_root"] == str(log_root)
    log = json.loads(done.stderr)
    assert log["event"] == "prune finished" and log["level"] == "info"
    assert log["sessions_removed"] == 2 and log["bytes_freed"] == report["bytes_freed"]
    assert folders(log_root) == {names[2]}
    assert [r["dir_name"] for r in index_records(log_root)] == [names[2]]


def test_quiet_when_there_is_nothing_to_do(log_root: Path, env: dict[str, str]) -> None:
    _sessions(log_root, 1)
    proc = prune(log_root, env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    absent = log_root.parent / "never-written"
    proc = prune(absent, env, "--older-than", "1d")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert not absent.exists()


def test_a_log_root_that_is_no_folder_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    """A store not made yet is nothing to do (above); a file in its place is a mistake."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    done = prune(afile, env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"autoskillit-trace: error: prune of {afile} failed: Not a directory\n"


def test_quiet_option_drops_the_log_line(log_root: Path, env: dict[str, str]) -> None:
    _sessions(log_root, 2)
    proc = prune(log_root, env, "--keep", 1, "-q")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert len(folders(log_root)) == 1


def test_keep_defaults_to_max_sessions(log_root: Path, env: dict[str, str]) -> None:
    names = _sessions(log_root, 3)
    env = {**env, "AUTOSKILLIT_LINUX_TRACING__MAX_SESSIONS": "2"}
    proc = prune(log_root, env, "--dry-run")
    assert proc.stdout.splitlines() == [
        f"would remove {names[0]}",
        proc.stdout.splitlines()[-1],
    ]
    assert proc.stdout.splitlines()[-1].startswith("would remove 1 of 3 sessions, freeing ")
    assert json.loads(proc.stderr)["event"] == "prune dry run"


def test_older_than(log_root: Path, env: dict[str, str]) -> None:
    _sessions(log_root, 2)
    assert (
        json.loads(prune(log_root, env, "--older-than", "1h", "--json").stdout)["sessions_removed"]
        == 0
    )
    report = json.loads(prune(log_root, env, "--older-than", "0s", "--json").stdout)
    assert report["sessions_removed"] == 2 and report["older_than_seconds"] == 0
    assert folders(log_root) == set() and index_records(log_root) == []


def test_bad_options_are_one_line_usage_errors(log_root: Path, env: dict[str, str]) -> None:
    for args, expected in [
        (("--older-than", "a month"), "'a month' is not a duration; expected a number"),
        (("--older-than", "-3d"), "'-3d' is not a duration; expected a finite number >= 0"),
        (("--keep", "-1"), "-1 is not in the range x>=0"),
        (("--keep", "many"), "'many' is not a valid integer"),
    ]:
        proc = prune(log_root, env, *args)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
        assert proc.stderr.startswith("autoskillit-trace: error: ")


def test_dry_run_lines_on_data() -> None:
    record = {
        "crashed_recovered": ["c"],
        "removed": ["a", "b"],
        "sessions_removed": 2,
        "sessions_before": 5,
        "bytes_freed": 3072,
    }
    assert dry_run_lines(record) == [
        "would finalize crashed session c",
        "would remove a",
        "would remove b",
        "would remove 2 of 5 sessions, freeing 3.0 KiB",
    ]
