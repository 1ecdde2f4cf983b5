"""Reading who used it: show's Processes and Tool calls sections, show --processes, Markdown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import clean_env, run_traced, tracer

from autoskillit_trace.series import Series
from autoskillit_trace.views import markdown_lines, process_tree_lines, show_text

PY = sys.executable
HOG = f"{PY} -c 'x = bytearray(120 << 20); import time; time.sleep(1)'"
SMALL = f"{PY} -c 'import time; time.sleep(1)'"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A session of a shell that starts a small sleeper and, from a subshell, a hog."""
    root = tmp_path_factory.mktemp("usage") / "logs"
    traced = run_traced(root, ["bash", "-c", f"{SMALL} & ( {HOG}; true ); wait"], interval=0.1)
    assert traced.proc.returncode == 0, traced.stderr
    return root, traced.session.folder.name


def show(recorded: tuple[Path, str], *args: str) -> str:
    root, name = recorded
    env = clean_env(root.parent, COLUMNS="200")
    done = subprocess.run(
        tracer("show", "--log-dir", root, name, *args), capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_show_names_the_top_processes(recorded: tuple[Path, str]) -> None:
    out = show(recorded)
    section = out[out.index("Processes (") :]
    rows = section.splitlines()
    assert "bytearray(120 << 20)" in rows[3]  # the title, a note, the headers, then the hog
    assert "MiB" in rows[3] and "+0." in rows[3]
    assert "Tool calls" not in out  # not an agent session


def depth(header: str, line: str) -> int:
    """How far a row's comm is indented under the COMM heading."""
    comm = line.split()[1]
    return line.index(f" {comm} ") + 1 - header.index("COMM")


def test_show_processes_is_a_tree_oldest_first(recorded: tuple[Path, str]) -> None:
    header, command, *rest = show(recorded, "--processes").splitlines()
    assert header.split()[:3] == ["PID", "COMM", "PEAK"]
    assert command.split()[1] == "bash" and depth(header, command) == 0  # the command on top
    pythons = [line for line in rest if line.split()[1].startswith("python")]
    (hog,) = [line for line in pythons if "bytearray" in line]
    (small,) = [line for line in pythons if "bytearray" not in line]
    assert depth(header, small) == 2  # the shell's child
    assert depth(header, hog) == 4  # the subshell's child


def test_show_markdown_has_the_top_three(recorded: tuple[Path, str]) -> None:
    out = show(recorded, "--markdown")
    section = out[out.index("**Top processes**") :].splitlines()
    table = [line for line in section if line.startswith("| ") and "pid" not in line]
    assert 1 <= len(table) <= 3
    assert "bytearray" in table[0]


def test_a_session_without_processes_says_so(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    run_traced(root, ["true"], interval=None)  # over before its first snapshot
    (folder,) = (root / "sessions").iterdir()
    out = show((root, folder.name), "--processes")
    assert out.startswith("no process recorded")


SUMMARY = {
    "session_id": "s",
    "agent_turns": 2,
    "process_count": 2,
    "top_processes": [
        {
            "pid": 7,
            "comm": "python3",
            "cmdline": "python3 big.py",
            "peak_rss_kb": 204800,
            "cpu_seconds": 3.5,
            "first_seen_s": 0.5,
            "last_seen_s": 9.0,
        },
    ],
    "tool_time_seconds": {"Bash": 41.0, "Read": 0.25},
    "slowest_tool_calls": [
        {
            "name": "Bash",
            "input": "make -j8",
            "duration_sec": 40.0,
            "success": True,
            "peak_tree_rss_kb": 1048576,
        },
        {
            "name": "Bash",
            "input": "false",
            "duration_sec": 1.0,
            "success": False,
            "peak_tree_rss_kb": None,
        },
    ],
}


def test_an_agent_session_shows_its_tool_calls() -> None:
    lines = show_text(SUMMARY, "/f", [], Series(), 120)
    text = "\n".join(lines)
    assert "time per tool: Bash 41.0s, Read 0.2s" in text
    calls = lines[lines.index("Tool calls:") + 3 :]
    assert calls[0].split()[:5] == ["Bash", "40.0s", "yes", "1.0", "GiB"] and "make -j8" in calls[0]
    assert calls[1].split()[:4] == ["Bash", "1.0s", "no", "-"]
    markdown = "\n".join(markdown_lines(SUMMARY, []))
    assert (
        "**Slowest tool calls**" in markdown
        and "| Bash | 40.0s | yes | 1.0 GiB | make -j8 |" in markdown
    )


def test_a_reused_pid_hangs_under_the_parent_of_its_time() -> None:
    def p(pid: int, ppid: int, first: float, comm: str) -> dict[str, object]:
        return {"pid": pid, "ppid": ppid, "comm": comm, "first_seen_s": first, "last_seen_s": first}

    lines = process_tree_lines(
        [p(10, 1, 0.0, "sh"), p(11, 10, 0.1, "old"), p(12, 11, 0.2, "oldkid"),
         p(11, 10, 5.0, "new"), p(13, 11, 5.1, "newkid")],
        120,
    )  # fmt: skip
    comms = [line.split(None, 2)[1] for line in lines[1:]]
    assert comms == ["sh", "old", "oldkid", "new", "newkid"]
    assert [depth(lines[0], line) for line in lines[1:]] == [0, 2, 4, 2, 4]


def test_many_processes_whose_parents_no_snapshot_saw_are_each_one_root() -> None:
    """A build whose compilers' shells lived between snapshots: every compiler is a root,
    listed once, oldest first (in linear time: the roots were a list searched per process)."""
    count = 40_000
    processes = [
        {"pid": i, "ppid": 10_000_000 + i, "comm": "cc1", "cmdline": f"cc1 unit{i}.c",
         "first_seen_s": i / 1000, "last_seen_s": i / 1000, "peak_rss_kb": 100,
         "cpu_seconds": 0.1}
        for i in reversed(range(count))
    ]  # fmt: skip
    lines = process_tree_lines(processes, 200)
    listed = [line for line in lines[1:] if "cc1 unit" in line]
    assert len(listed) == count
    assert "unit0.c" in listed[0] and f"unit{count - 1}.c" in listed[-1]


def test_process_lines_of_other_shapes_are_skipped_or_shown_as_they_are(tmp_path: Path) -> None:
    """processes.jsonl edited or written by something else: no traceback, the lines that
    name a process by its pid are listed."""
    root = tmp_path / "logs"
    traced = run_traced(root, ["true"], interval=0.1)
    folder = traced.session.folder
    lines = [
        {"pid": "x", "ppid": [1]},
        {"pid": True},
        {"pid": 5, "ppid": [5], "comm": None, "cmdline": 7, "first_seen_s": "a"},
        {"pid": 6, "ppid": {"a": 1}, "comm": "ok"},
    ]
    (folder / "processes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = show((root, folder.name), "--processes")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["5", "6"]
