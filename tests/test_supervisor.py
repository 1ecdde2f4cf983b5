"""The supervisor with real processes: stdout passthrough, limits, stopping trees, leftovers."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    FIXTURES,
    Session,
    clean_env,
    ctrl_c_at_a_terminal,
    read_json,
    run_traced,
    start_traced,
    tracer,
    wait_for,
    workload,
)
from workloads import AGENT_CALL, agent_mix_pieces, blob_bytes

from autoskillit_trace.pipe import widen_pipe


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# -- stdout passes through the agent pipe untouched ------------------------------------


@pytest.mark.parametrize(
    ("size", "newlines"),
    [(1 << 20, "yes"), (5 << 20, "no")],
    ids=["1MB-binary", "5MB-one-line"],
)
def test_passthrough_is_byte_identical(log_root: Path, size: int, newlines: str) -> None:
    traced = run_traced(
        log_root, workload("blob", size, 7, newlines), extra=("--agent-events",), interval=None
    )
    assert traced.proc.returncode == 0, traced.stderr
    assert traced.proc.stdout == blob_bytes(size, 7, newlines == "yes")
    summary = traced.session.summary
    assert summary["success"] is True and summary["agent_turns"] is None  # not an agent


@pytest.mark.slow
def test_a_large_mixed_stream_is_relayed_exactly_and_every_call_parsed(
    log_root: Path, tmp_path: Path
) -> None:
    """200 MB of build output, binary runs and tool calls cut across writes: the same
    bytes come out, and every tool call is an event, whatever the reads were."""
    size, seed = 200 << 20, 3
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        proc = start_traced(
            log_root, workload("agent-mix", size, seed), extra=("--agent-events",), stderr=err
        )
        assert proc.stdout is not None
        got = hashlib.sha256()
        while chunk := proc.stdout.read(1 << 16):
            got.update(chunk)
        assert proc.wait(timeout=300) == 0, stderr.read_text()[-2000:]
    wanted = hashlib.sha256()
    calls = 0
    for piece in agent_mix_pieces(size, seed):
        wanted.update(piece)
        calls += piece.startswith(AGENT_CALL)
    assert got.hexdigest() == wanted.hexdigest()
    (folder,) = (log_root / "sessions").iterdir()
    session = Session(folder)
    invoked = [e for e in session.records("events.jsonl") if e["event"] == "agent_invoked"]
    assert len(invoked) == calls > 5000
    assert session.summary["tool_calls"] == {"Bash": calls}
    assert session.summary["is_error"] is False


EPIPE_EXITS_3 = """
import sys
try:
    while True:
        sys.stdout.buffer.write(b"x" * 65536)
except BrokenPipeError:
    sys.exit(3)
"""


@pytest.mark.parametrize("command", [["yes"], ["python3", "-c", EPIPE_EXITS_3]], ids=["yes", "py"])
def test_a_reader_that_goes_away_ends_the_command_as_bare(
    log_root: Path, command: list[str]
) -> None:
    """Past the relay's larger pipes, the command still meets the closed reader:
    SIGPIPE, or EPIPE for a program that ignores it."""
    statuses = []
    for wrapped in (False, True):
        if wrapped:
            proc = start_traced(log_root, command, extra=("--agent-events",))
        else:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        assert len(proc.stdout.read(3 << 20)) == 3 << 20
        proc.stdout.close()
        proc.stderr.read()
        statuses.append(proc.wait(timeout=60))
    assert statuses[0] in (-signal.SIGPIPE, 3)
    assert statuses[1] == statuses[0]


PIPE_SIZE_OF_STDOUT = "import fcntl; print(fcntl.fcntl(1, fcntl.F_GETPIPE_SZ))"


@pytest.mark.parametrize("agent_events", [True, False], ids=["relayed", "own-stdout"])
def test_the_relay_widens_both_pipes(log_root: Path, agent_events: bool) -> None:
    """Relayed, the command writes into a 1 MiB pipe, and so does the wrapper; else
    the command's stdout is the pipe it was given, as it was."""
    extra = ("--agent-events",) if agent_events else ()
    proc = start_traced(log_root, ["python3", "-c", PIPE_SIZE_OF_STDOUT], extra=extra)
    assert proc.stdout is not None and proc.stderr is not None
    seen = int(proc.stdout.read())
    ours = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
    proc.communicate(timeout=60)
    fresh_read, fresh_write = os.pipe()
    default = fcntl.fcntl(fresh_read, fcntl.F_GETPIPE_SZ)
    os.close(fresh_read)
    os.close(fresh_write)
    if agent_events:
        assert seen == ours == 1 << 20  # unless 64 MiB of pipes of this user are open
    else:
        assert seen == ours == default


def test_a_pipe_grows_to_the_first_size_allowed_and_never_shrinks(tmp_path: Path) -> None:
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    read_end, write_end = os.pipe()
    try:
        if os.geteuid() != 0:  # above the limit: refused, so the next size is taken
            assert widen_pipe(write_end, (limit * 2, 1 << 18)) == 1 << 18
        assert widen_pipe(read_end, (1 << 20,)) == 1 << 20
        assert widen_pipe(read_end, (1 << 18,)) == 1 << 20
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == 1 << 20
    finally:
        os.close(read_end)
        os.close(write_end)
    with (tmp_path / "file").open("wb") as handle:
        assert widen_pipe(handle.fileno()) is None


def test_lines_are_not_held_back(log_root: Path) -> None:
    """Each chunk reaches our stdout as soon as the child writes it, before any newline.

    The child and its timeout outlast the wait: held back, the chunk would never come in time.
    """
    script = "import sys,time; sys.stdout.write('partial'); sys.stdout.flush(); time.sleep(600)"
    proc = start_traced(
        log_root, ["python3", "-c", script], extra=("--agent-events", "--timeout", "300")
    )
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        got = wait_for(lambda: proc.stdout.read(), timeout=60, what="partial line")  # type: ignore[union-attr]
        assert got == b"partial"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_agent_session_summary_and_index(log_root: Path) -> None:
    traced = run_traced(
        log_root,
        workload("replay", FIXTURES / "claude_not_logged_in.jsonl", "0.01"),
        extra=("--agent-events",),
    )
    assert traced.proc.returncode == 0  # the stand-in exits 0 ...
    assert traced.proc.stdout == (FIXTURES / "claude_not_logged_in.jsonl").read_bytes()
    summary = traced.session.summary
    assert summary["success"] is False  # ... but the agent said is_error
    assert summary["is_error"] is True and summary["cli_subtype"] == "success"
    assert summary["agent_session_id"] == "1639846d-7515-4faf-a4a4-792b10bd54d7"
    assert summary["num_turns"] == summary["agent_turns"] == 1
    index = traced.index()[0]
    assert index["agent_session_id"] == "1639846d-7515-4faf-a4a4-792b10bd54d7"
    assert index["success"] is False and index["total_cost_usd"] == 0


def test_agent_events_from_the_config_and_environment(log_root: Path) -> None:
    env = clean_env(log_root.parent, AUTOSKILLIT_LINUX_TRACING__AGENT_EVENTS="true")
    traced = run_traced(
        log_root, workload("replay", FIXTURES / "claude_tool_error.jsonl", "0"), env=env
    )
    assert traced.session.summary["num_turns"] == traced.session.summary["agent_turns"] == 2


def test_signals_are_forwarded_while_reading_the_pipe(log_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "signals.json"
    # An hour between snapshots: only the child's exit can wake the wrapper within the timeout.
    proc = start_traced(
        log_root,
        workload("count-signals", out, "0.3", "10"),
        interval=3600,
        extra=("--agent-events",),
    )
    wait_for(lambda: (read_json(out) or {}).get("ready"), what="child ready")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert read_json(out)["counts"] == {"SIGTERM": 1}
    assert proc.returncode == 0


# -- timeouts and stalls -----------------------------------------------------------------


@pytest.mark.parametrize("limit", ["--timeout", "--idle-timeout"])
def test_limit_stops_a_tree_that_ignores_sigterm(
    log_root: Path, tmp_path: Path, limit: str
) -> None:
    pidfile = tmp_path / "pids.json"
    # The tree would live 300 s: the run ending within run_traced's timeout means it was stopped.
    traced = run_traced(
        log_root,
        workload("stubborn-tree", pidfile, "300"),
        extra=(limit, "1", "--kill-grace", "0.5", "--agent-events"),
        interval=0.2,
        timeout=120,
    )
    reason = "timeout" if limit == "--timeout" else "idle_stall"
    assert traced.proc.returncode == 124, traced.stderr
    pids = read_json(pidfile)["pids"]
    assert not any(alive(pid) for pid in pids)
    summary = traced.session.summary
    assert summary["termination_reason"] == reason and summary["subtype"] == reason
    assert summary["exit_code"] == 124 and summary["success"] is False
    events = traced.session.records("events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds.index("timeout") < kinds.index("session_end")
    stop = next(e for e in events if e["event"] == "timeout")
    assert stop["reason"] == reason and stop["level"] == "ERROR"
    assert any(e["event"] == "error" and e["error_type"] == reason for e in events)
    if limit == "--timeout":
        assert stop["elapsed_sec"] >= 1.0  # never early; how late is the machine's load


def test_output_keeps_an_agent_from_counting_as_idle(log_root: Path) -> None:
    """A quiet-CPU agent that prints every 0.2 s is not stalled by a 1 s idle timeout."""
    traced = run_traced(
        log_root,
        workload("replay", FIXTURES / "claude_subagent.jsonl", "0.2"),
        extra=("--agent-events", "--idle-timeout", "1"),
    )
    assert traced.proc.returncode == 0
    assert traced.session.summary["termination_reason"] == "exited: code 0"
    assert traced.session.summary["stalled_retrying"] is False


def test_an_agent_that_only_retries_is_stalled(log_root: Path) -> None:
    """Retry lines every 0.2 s, and the CPU each attempt takes, are no progress for 1 s."""
    traced = run_traced(
        log_root,
        workload("retry-forever", "0.2"),
        extra=("--agent-events", "--idle-timeout", "1"),
        timeout=60,  # never stopped: it would retry forever
    )
    assert traced.proc.returncode == 124, traced.stderr
    summary = traced.session.summary
    assert summary["termination_reason"] == "idle_stall"
    assert summary["stalled_retrying"] is True and summary["api_retries"] >= 1
    events = traced.session.records("events.jsonl")
    stall = next(e for e in events if e["event"] == "error" and e["error_type"] == "idle_stall")
    assert "retried its API" in stall["message"]
    assert any(e["event"] == "retry" for e in events)


def test_bad_durations_are_one_line_usage_errors(log_root: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        tracer("run", "--log-dir", log_root, "--timeout", "soon", "--", "true"),
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1
    assert "--timeout" in proc.stderr.decode() and "not a duration" in proc.stderr.decode()


# -- leftovers -------------------------------------------------------------------------------


def test_orphans_are_listed_and_the_wrapper_does_not_wait(log_root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.json"
    traced = run_traced(log_root, workload("daemonize", pidfile, "300"), interval=None)
    daemon = read_json(pidfile)["pid"]
    try:
        assert traced.proc.returncode == 0
        assert alive(daemon)  # the wrapper ended while its command's daemon lives on
        summary = traced.session.summary
        assert summary["orphan_count"] == 1
        [orphan] = summary["orphans"]
        assert orphan["pid"] == daemon
        assert "daemonize" in orphan["cmdline"] and orphan["comm"]
        assert traced.index()[0]["orphan_count"] == 1
    finally:
        kill_quietly(daemon)


def test_kill_orphans_stops_them_gracefully(log_root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.json"
    traced = run_traced(
        log_root,
        workload("daemonize", pidfile, "30", "yes"),  # the daemon ignores SIGTERM
        extra=("--kill-orphans", "--kill-grace", "0.5"),
        interval=None,
    )
    daemon = read_json(pidfile)["pid"]
    try:
        assert traced.proc.returncode == 0
        assert not alive(daemon)
        summary = traced.session.summary
        assert [o["pid"] for o in summary["orphans"]] == [daemon]
        assert summary["termination_reason"] == "exited: code 0" and summary["success"] is True
        assert summary["duration_seconds"] >= 0.5  # it took SIGKILL after the grace period
    finally:
        kill_quietly(daemon)


def test_untraced_runs_honour_the_timeout(log_root: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        tracer("run", "--no-trace", "--timeout", "0.5", "--kill-grace", "0.2", "--", "sleep", "30"),
        capture_output=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 124
    assert not log_root.exists()


def test_json_lines_in_summary_are_valid(log_root: Path) -> None:
    traced = run_traced(log_root, workload("exit", 0))
    summary = traced.session.summary
    for key in ("agent_session_id", "num_turns", "is_error", "orphans", "tool_calls"):
        assert key in summary
    json.dumps(traced.index()[0])


def test_ctrl_c_reaches_the_child_once_while_reading_the_pipe(
    log_root: Path, tmp_path: Path
) -> None:
    """signalfd reports the si_code too: the terminal's own SIGINT is not forwarded again."""

    out = tmp_path / "signals.json"
    argv = tracer(
        "run", "--log-dir", log_root, "--agent-events", "-q", "--",
        *workload("count-signals", out, 0.5, 10, "SIGINT"),
    )  # fmt: skip
    assert ctrl_c_at_a_terminal(argv, out, clean_env(tmp_path)) == 0
    assert read_json(out)["counts"] == {"SIGINT": 1}


FALLBACK = """
import sys
from autoskillit_trace import libc, supervisor
libc.signalfd = lambda signals: None  # as on a libc without signalfd
chunks = []
sup = supervisor.Supervisor(sys.argv[1:], capture_stdout=True)
sup.spawn()
ended = sup.wait(None, lambda now: None, on_output=lambda chunk, now: chunks.append(chunk))
sys.stderr.write(f"{ended.status} {len(b''.join(chunks))}\\n")
sys.exit(ended.status)
"""


def test_without_signalfd_the_loop_still_works(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", FALLBACK, *workload("echo", "fallback")],
        capture_output=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"fallback\n"
    status, seen = proc.stderr.decode().splitlines()[-1].split()
    assert (status, seen) == ("0", "9")


CLAUDE = os.environ.get("AUTOSKILLIT_TEST_CLAUDE") or shutil.which("claude")


@pytest.mark.slow  # the CLI takes seconds to start
@pytest.mark.skipif(
    CLAUDE is None,
    reason="no Claude Code CLI (npm i -g @anthropic-ai/claude-code; or AUTOSKILLIT_TEST_CLAUDE)",
)
def test_real_cli_without_credentials(log_root: Path, tmp_path: Path) -> None:
    """The real CLI, logged out (a fresh HOME, no key): it reports is_error on a success subtype."""
    env = clean_env(tmp_path, HOME=str(tmp_path / "home"))
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("ANTHROPIC_AUTH_TOKEN", None)
    traced = run_traced(
        log_root,
        [
            CLAUDE or "claude",
            "-p",
            "hi",
            "--output-format",
            "stream-json",
            "--verbose",
            "--max-turns",
            "2",
        ],
        extra=("--agent-events", "--timeout", "60"),
        env=env,
        timeout=90,
    )
    summary = traced.session.summary
    assert summary["success"] is False and summary["is_error"] is True
    assert summary["agent_session_id"] and summary["num_turns"] == summary["agent_turns"]
    events = traced.session.records("events.jsonl")
    assert [e["max_turns"] for e in events if e["event"] == "turn_start"] == [2]
    assert any(e["event"] == "error" for e in events)


TINY_INTERVAL = """
import sys, time
from autoskillit_trace import supervisor
sup = supervisor.Supervisor(sys.argv[1:])
sup.spawn()
ticks = []

def tick(now):  # a sample slower than the interval: the loop must still read signals
    ticks.append(now)
    if len(ticks) == 1:
        sys.stderr.write("ticking\\n")
        sys.stderr.flush()
    end = time.monotonic() + 0.001
    while time.monotonic() < end:
        pass

ended = sup.wait(1e-9, tick)
sys.stderr.write(f"{ended.status} {len(ticks) > 1}\\n")
"""


def test_a_tick_slower_than_the_interval_cannot_starve_signals(env: dict[str, str]) -> None:
    """Each pass of the loop reads the signals first: SIGTERM and the child's exit get through."""
    proc = subprocess.Popen(
        [sys.executable, "-c", TINY_INTERVAL, "sleep", "30"], stderr=subprocess.PIPE, env=env
    )
    assert proc.stderr is not None
    assert proc.stderr.readline() == b"ticking\n"
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        kill_quietly(proc.pid)
    assert stderr.decode().splitlines()[-1] == "143 True"
