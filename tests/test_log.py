"""What the wrapper prints while the command owns a terminal: nothing inside its screen."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from helpers import clean_env, tracer, wait_for_snapshots, workload
from terminal import CTRL_C, Terminal

SCREEN = """
import sys, time
print("BEGIN" + "-SCREEN", flush=True)
with open("/proc/self/oom_score_adj", "w") as handle:  # an anomaly while the screen is up
    handle.write("1000")
time.sleep(1.0)
print("END" + "-SCREEN", flush=True)
"""


def test_lines_wait_until_the_command_is_done(log_root: Path, tmp_path: Path) -> None:
    """The start line comes before the command draws; anomalies come after it ends."""
    command = tracer("run", "--log-dir", log_root, "--interval", "0.05", "--",
                     sys.executable, "-c", SCREEN)  # fmt: skip
    with Terminal(command, clean_env(tmp_path)) as term:
        assert term.wait(timeout=60) == 0
    text = term.text()
    begin, end = text.index("BEGIN-SCREEN"), text.index("END-SCREEN")
    assert text.index("session started") < begin
    assert "anomaly detected" in text[end:]
    assert text[begin:end].count("\n") == 1  # nothing of ours between the two lines


def test_ctrl_c_in_an_interactive_program_prints_nothing(log_root: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the program (here a REPL that survives it); the wrapper says nothing."""
    command = tracer("run", "--log-dir", log_root, "--interval", "0.1", "--",
                     sys.executable, "-q", "-i")  # fmt: skip
    with Terminal(command, clean_env(tmp_path, TERM="dumb")) as term:
        at = term.read_until(b">>> ")
        at = term.send_until(CTRL_C, b"KeyboardInterrupt", start=at)
        term.send(b"print('still', 6 * 7)\n")
        at = term.read_until(b"still 42", start=at)
        term.send(b"raise SystemExit(3)\n")
        assert term.wait(timeout=60) == 3
    assert "signal" not in term.text(0, at)


def test_the_held_lines_are_bounded(log_root: Path, tmp_path: Path) -> None:
    """A session that finds many anomalies at a terminal keeps memory flat: the rest are counted."""
    from autoskillit_trace.log import HELD_LINES, make_logger

    out = tmp_path / "held.txt"
    with out.open("w") as stream:
        log = make_logger("json", stream=stream)
        log.hold()
        for i in range(HELD_LINES + 5):
            log.warning("anomaly detected", n=i)
        assert out.read_text() == ""
        log.release()
    lines = out.read_text().splitlines()
    assert len(lines) == HELD_LINES + 1
    assert '"count": 5' in lines[-1]


def test_lines_stream_when_stderr_is_not_a_terminal(log_root: Path, tmp_path: Path) -> None:
    """In CI (stderr a pipe or a file) anomalies are logged as they are found (see test_run)."""
    import subprocess

    proc = subprocess.Popen(
        tracer("run", "--log-dir", log_root, "--interval", "0.05", "--",
               *workload("oom", 0.2, 20)),
        stderr=subprocess.PIPE, env=clean_env(tmp_path),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if b"anomaly detected" in line:
                break
        assert proc.poll() is None  # told while the command still runs
    finally:
        proc.kill()
        proc.wait()


def test_less_draws_its_screen_alone(log_root: Path, tmp_path: Path) -> None:
    """``run -- less FILE``: our start line first, nothing of ours while less owns the screen."""
    less = shutil.which("less")
    if less is None:
        pytest.skip("less is not installed (apt-get install less)")
    page = tmp_path / "page.txt"
    page.write_text("".join(f"line {i} of the page\n" for i in range(200)))
    command = tracer("run", "--log-dir", log_root, "--interval", "0.05", "--", less, page)
    with Terminal(command, clean_env(tmp_path, TERM="xterm", LESS="", LESSHISTFILE="-")) as term:
        drawn = term.read_until(b"line 20 of the page")
        wait_for_snapshots(log_root, 10)  # the wrapper sampled while less was on the screen
        term.send(b"q")
        assert term.wait(timeout=60) == 0
    text = term.text()
    opened = text.find("\x1b[?1049h")  # less switches to the alternate screen
    closed = text.rfind("\x1b[?1049l")
    assert 0 <= text.index("session started") < (opened if opened >= 0 else drawn)
    screen = text[opened if opened >= 0 else 0 : closed if closed >= 0 else len(text)]
    assert "session" not in screen and "snapshot" not in screen and '{"event"' not in screen
    assert "session finished" in text[closed if closed >= 0 else drawn :]
