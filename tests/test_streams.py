"""The command's standard streams are its own: closed ones stay closed, order is kept."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import tracer, workload


def _sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize("closed", [">&-", "2>&-", "<&-", ">&- 2>&-"])
@pytest.mark.parametrize("mode", ["traced", "agent-events", "untraced"])
def test_closed_streams_keep_the_exit_status(
    log_root: Path, env: dict[str, str], closed: str, mode: str
) -> None:
    """``run -- sh -c 'echo hi; exit 7' >&-`` ends 7, as the bare command, and prints the same."""
    extra = {"traced": [], "agent-events": ["--agent-events"], "untraced": ["--no-trace"]}[mode]
    run = " ".join(tracer("run", "--log-dir", log_root, "-q", *extra, "--"))
    command = "sh -c 'echo hi; read x; echo \"$x\" >&2; exit 7'"
    bare = _sh(f"echo in | {{ {command} {closed}; echo status=$?; }}", env)
    wrapped = _sh(f"echo in | {{ {run} {command} {closed}; echo status=$?; }}", env)
    assert bare.stdout.endswith("status=7\n")
    assert wrapped.stdout == bare.stdout
    assert "Traceback" not in wrapped.stderr
    assert wrapped.stderr == bare.stderr
    if mode != "untraced":
        assert len(list(log_root.glob("sessions/*/summary.json"))) == 1


def test_nothing_of_the_wrapper_reaches_a_closed_stdout(
    log_root: Path, env: dict[str, str]
) -> None:
    """The wrapper's own files never take descriptor 1 when the command finds it closed."""
    run = " ".join(tracer("run", "--log-dir", log_root, "--interval", "0.05", "--"))
    wrapped = _sh(f"{run} sh -c 'sleep 0.3; echo hi || echo failed >&2' >&-", env)
    assert "failed" in wrapped.stderr
    trace = next(log_root.glob("sessions/*/proc_trace.jsonl")).read_text()
    assert "hi\n" not in trace


def test_stdout_and_stderr_to_one_file_keep_their_order(
    log_root: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """With --agent-events and ``2>&1`` into a file, the lines come in the order written."""
    out = tmp_path / "out.txt"
    argv = tracer("run", "--log-dir", log_root, "-q", "--agent-events", "--",
                  *workload("interleave", 300))  # fmt: skip
    with out.open("wb") as handle:
        subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, timeout=60)
    expected = "".join(f"out {i}\nerr {i}\n" for i in range(300))
    assert out.read_text() == expected
