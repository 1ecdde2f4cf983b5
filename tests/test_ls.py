"""``autoskillit-trace ls``: the index, newest first, filtered, read from its end."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from helpers import index_records, tracer

from autoskillit_trace.commands.ls import newest
from autoskillit_trace.selection import SessionFilter
from autoskillit_trace.views import LS_HEADERS, ls_row, ls_table


def ls(root: Path, env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tracer("ls", "--log-dir", root, *args), capture_output=True, text=True, env=env
    )


def test_json_lines_newest_first(recorded: Path, env: dict[str, str]) -> None:
    proc = ls(recorded, env, "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    listed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert listed == index_records(recorded)[::-1]


def test_filters(recorded: Path, env: dict[str, str]) -> None:
    def names(*args: str) -> list[str]:
        proc = ls(recorded, env, "--json", *args)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line)["session_id"] for line in proc.stdout.splitlines()]

    everything = names()
    assert len(everything) == 4 and everything[0] == "my-job"
    failed = names("--failed")
    assert len(failed) == 1
    assert [r["exit_code"] for r in index_records(recorded) if r["session_id"] in failed] == [3]
    anomalous = names("--anomalies")
    assert len(anomalous) == 1 and anomalous != failed
    assert names("--command", "workloads.py echo") == ["my-job"]
    assert names("--since", "1h") == everything
    assert names("--since", "0s") == []
    assert names("--limit", "2") == everything[:2]
    assert names("--min-rss", "1T") == []
    assert names("--failed", "--anomalies") == []


def test_since_a_date_or_time(recorded: Path, env: dict[str, str]) -> None:
    """``--since`` takes an absolute date or date-time too; without an offset, UTC
    (here where local time is UTC+14, so that reading it as local time would list all)."""
    env = {**env, "TZ": "XXX-14"}

    def names(since: str) -> list[str]:
        proc = ls(recorded, env, "--json", "--since", since)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line)["session_id"] for line in proc.stdout.splitlines()]

    records = index_records(recorded)
    everything = [r["session_id"] for r in reversed(records)]
    first, third, last = (
        datetime.fromisoformat(records[i]["start_ts"]).astimezone(timezone.utc) for i in (0, 2, -1)
    )
    assert names(first.strftime("%Y-%m-%d")) == everything
    assert names((first + timedelta(days=1)).strftime("%Y-%m-%d")) == []
    assert names(third.isoformat()) == everything[:2]  # started at or after
    assert names(third.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == everything[:2]
    assert names(third.strftime("%Y-%m-%dT%H:%M:%S.%f")) == everything[:2]
    assert names(third.astimezone(timezone(timedelta(hours=-5))).isoformat()) == everything[:2]
    assert names((last + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")) == []
    minute = third.replace(second=0, microsecond=0)
    assert names(minute.strftime("%Y-%m-%dT%H:%M")) == [
        r["session_id"]
        for r in reversed(records)
        if datetime.fromisoformat(r["start_ts"]) >= minute
    ]


def test_table_when_piped_has_every_session(recorded: Path, env: dict[str, str]) -> None:
    proc = ls(recorded, env)
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["SESSION", "START"]
    assert len(lines) == 5 and lines[1].startswith("my-job ")
    assert "workloads.py exit 3" in proc.stdout


def test_bad_index_line_is_skipped_with_a_warning(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    good = {"dir_name": "a", "success": True, "start_ts": "2026-11-22T10:00:00+00:00"}
    (root / "sessions.jsonl").write_text(
        json.dumps(good)
        + "\n{not json\n[1, 2]\n"
        + json.dumps({**good, "dir_name": "b"})
        + '\n{"cut'
    )
    proc = ls(root, env, "--json")
    assert proc.returncode == 0
    assert [json.loads(x)["dir_name"] for x in proc.stdout.splitlines()] == ["b", "a"]
    assert proc.stderr.strip() == (
        f"autoskillit-trace: warning: skipped 3 line(s) of {root / 'sessions.jsonl'} "
        "that are not valid JSON"
    )


def test_no_index_is_an_empty_list(tmp_path: Path, env: dict[str, str]) -> None:
    proc = ls(tmp_path / "nothing-here", env)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert not (tmp_path / "nothing-here").exists()


def test_bad_options_are_one_line_usage_errors(tmp_path: Path, env: dict[str, str]) -> None:
    for args, expected in [
        (("--since", "yesterday"), "'yesterday' is neither a duration (12h, 7d) nor a date"),
        (("--since", "2026-13-01"), "'2026-13-01' is neither a duration"),
        (("--limit", "-1"), "-1 is not in the range x>=0"),
        (("--min-rss", "lots"), "'lots' is not a size"),
    ]:
        proc = ls(tmp_path, env, *args)
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr


def _big_index(root: Path, template: dict[str, object], count: int) -> None:
    root.mkdir(parents=True)
    with open(root / "sessions.jsonl", "w") as handle:
        for i in range(count):
            record = {**template, "dir_name": f"pid-{i}-x", "session_id": f"pid-{i}-x"}
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")


def test_terminal_default_is_the_newest_20(
    recorded: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    root = tmp_path / "logs"
    _big_index(root, index_records(recorded)[0], 25)
    master, slave = pty.openpty()
    os.set_inheritable(slave, True)
    env = {**env, "COLUMNS": "200"}
    proc = subprocess.Popen(tracer("ls", "--log-dir", root), stdout=slave, env=env)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert proc.wait(timeout=30) == 0
    lines = output.decode().splitlines()
    assert lines[0].startswith("SESSION") and len(lines) == 21
    assert lines[1].startswith("pid-24-x ") and lines[-1].startswith("pid-5-x ")


def test_newest_20_of_100000_lines_reads_only_the_end(
    recorded: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """The newest lines are read from the end: broken lines at the start are never reached.

    How long it takes is a figure of ``make bench`` ("ls newest 20 of 100,000").
    """
    root = tmp_path / "logs"
    _big_index(root, index_records(recorded)[0], 100_000)
    index = root / "sessions.jsonl"
    index.write_bytes(b"{not json\n" * 1000 + index.read_bytes())
    found = newest(index, SessionFilter(), 20)
    assert [r["dir_name"] for r in found.records] == [
        f"pid-{i}-x" for i in range(99_999, 99_979, -1)
    ]
    assert found.skipped == 0
    proc = ls(root, env, "--limit", "20")
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 21
    assert newest(index, SessionFilter(), 0).skipped == 1000  # all of it: every line read


def test_one_line_per_folder_even_from_an_older_index(tmp_path: Path, env: dict[str, str]) -> None:
    """Older versions' prune could append a "crashed" line for a finished session:
    ``ls`` lists each folder once, with its newest line."""
    root = tmp_path / "logs"
    root.mkdir()
    base = {"start_ts": "2026-11-22T10:00:00+00:00", "skill_command": "make"}
    lines = [
        {**base, "dir_name": "a", "success": True, "subtype": "success"},
        {**base, "dir_name": "b", "success": True, "subtype": "success"},
        {**base, "dir_name": "a", "success": False, "subtype": "crashed"},
        {**base, "success": True},  # no folder named: its own
        {**base, "success": True},
        {**base, "dir_name": "c", "success": True, "subtype": "success"},
    ]
    (root / "sessions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))

    def listed(*args: str) -> list[tuple[object, object]]:
        proc = ls(root, env, "--json", *args)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return [
            (r.get("dir_name"), r.get("subtype")) for r in map(json.loads, proc.stdout.splitlines())
        ]

    assert listed() == [
        ("c", "success"),
        (None, None),
        (None, None),
        ("a", "crashed"),
        ("b", "success"),
    ]
    assert listed("--limit", "4") == listed()[:4]
    assert listed("--failed") == [("a", "crashed")]
    assert listed("--command", "make", "--limit", "5")[-1] == ("b", "success")
    table = ls(root, env).stdout.splitlines()
    assert [row.split()[0] for row in table[1:]] == ["c", "-", "-", "a", "b"]


def test_table_rows_on_data() -> None:
    record = {
        "dir_name": "pid-1-x",
        "start_ts": "2026-11-22T10:00:00.123456+00:00",
        "duration_seconds": 185.2,
        "exit_code": 137,
        "success": False,
        "subtype": "crashed",
        "peak_rss_kb": 2048,
        "peak_tree_rss_kb": 4096,
        "anomaly_count": 1,
        "skill_command": "make test",
    }
    row = ls_row(record)
    assert row == [
        "pid-1-x",
        "2026-11-22 10:00:00",
        "3m05s",
        "137",
        "crashed",
        "4.0 MiB",
        "1",
        "make test",
    ]
    assert ls_row({}) == ["-", "-", "-", "-", "-", "-", "-", "-"]
    table = ls_table([{**record, "skill_command": "x" * 100}], 90)
    assert table[0].split()[0] == LS_HEADERS[0]
    assert len(table[1]) == 90 and table[1].endswith("x…")
