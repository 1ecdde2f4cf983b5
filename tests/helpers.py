"""Start the wrapper and the test workloads, and read what a session wrote.

The one place that knows how tests spawn processes; tests import from here.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoskillit_trace.agents import AUTO, FORMATS

WORKLOADS = Path(__file__).with_name("workloads.py")
FIXTURES = Path(__file__).with_name("fixtures")  # captured agent streams and stand-ins
WORKLOAD_COMMAND = os.path.basename(sys.executable)  # a workload's command, as exports name it
# The stream formats, as the message about an unknown --agent-format lists them.
KNOWN_FORMATS = f"(known: {', '.join((AUTO, *FORMATS))})"


def workload(name: str, *args: object) -> list[str]:
    """The argv of a test workload (see workloads.py)."""
    return [sys.executable, str(WORKLOADS), name, *map(str, args)]


def replay_stream(parser: Any, path: Path) -> list[Any]:
    """A stream format's events for a captured stream fed one second per line, then ended."""
    events: list[Any] = []
    now = 0.0
    for line in path.read_bytes().splitlines():
        now += 1.0
        events += parser.feed(line, now)
    return events + parser.finish(now + 1.0)


def tracer(*args: object) -> list[str]:
    """The argv of ``autoskillit-trace ARGS`` as a real process."""
    return [sys.executable, "-m", "autoskillit_trace", *map(str, args)]


def prune(root: Path, env: dict[str, str], *args: object) -> subprocess.CompletedProcess[bytes]:
    """``prune --log-dir ROOT ARGS`` run to its end, its output captured."""
    return subprocess.run(tracer("prune", "--log-dir", root, *args), capture_output=True, env=env)


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An environment that can never reach the user's real files or settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AUTOSKILLIT") and k != "GITHUB_STEP_SUMMARY"
    }
    env.update(
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


@dataclass
class Session:
    """One session folder, read back."""

    folder: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.folder / "summary.json").read_text())

    def records(self, name: str = "proc_trace.jsonl") -> list[dict[str, Any]]:
        path = self.folder / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == "snapshot"]

    @property
    def anomalies(self) -> list[dict[str, Any]]:
        return self.records("anomalies.jsonl")

    @property
    def kinds(self) -> list[str]:
        return [a["kind"] for a in self.anomalies]

    @property
    def processes(self) -> list[dict[str, Any]]:
        return self.records("processes.jsonl")

    def replayed(self) -> list[dict[str, Any]]:
        """The anomalies that detection over the trace finds afterwards, as records."""
        from autoskillit_trace.detect import detect

        command = self.records()[0].get("skill_command")
        return [a.to_record() for a in detect(self.snapshots, command_line=command)]


@dataclass
class Traced:
    """A finished wrapper process and the log root it wrote to."""

    proc: subprocess.CompletedProcess[bytes]
    root: Path

    @property
    def stdout(self) -> str:
        return self.proc.stdout.decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self.proc.stderr.decode(errors="replace")

    def sessions(self) -> list[Session]:
        base = self.root / "sessions"
        if not base.exists():
            return []
        return [Session(p) for p in sorted(base.iterdir()) if not p.name.startswith(".")]

    @property
    def session(self) -> Session:
        found = self.sessions()
        assert len(found) == 1, f"expected one session, found {[s.folder.name for s in found]}"
        return found[0]

    def index(self) -> list[dict[str, Any]]:
        path = self.root / "sessions.jsonl"
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def run_args(root: Path, interval: float | None, extra: tuple[object, ...]) -> list[object]:
    args: list[object] = ["run", "--log-dir", root, "--log-format", "json"]
    if interval is not None:
        args += ["--interval", interval]
    return [*args, *extra]


def run_traced(
    root: Path,
    command: list[str],
    *,
    interval: float | None = 0.1,
    extra: tuple[object, ...] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Traced:
    """Run ``autoskillit-trace run ... -- command`` to its end."""
    argv = tracer(*run_args(root, interval, extra), "--", *command)
    proc = subprocess.run(
        argv,
        capture_output=True,
        env=env or clean_env(root.parent),
        cwd=cwd or root.parent,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Traced(proc, root)


def start_traced(
    root: Path,
    command: list[str],
    *,
    interval: float | None = 0.1,
    extra: tuple[object, ...] = (),
    env: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start the wrapper in the background (for signal and crash tests)."""
    argv = tracer(*run_args(root, interval, extra), "--", *command)
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        argv, env=env or clean_env(root.parent), cwd=root.parent, stdin=subprocess.DEVNULL, **popen
    )


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a test's process and everything it started, and reap it."""
    import psutil

    for child in psutil.Process(proc.pid).children(recursive=True):
        child.kill()
    proc.kill()
    proc.wait()


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """``predicate()`` once it is true; the timeout only ends a wait that would never end
    (generous: a machine busy with other work may be slow to get there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def trace_header(folder: Path) -> dict[str, Any] | None:
    """The session_start record of a session folder, once it is written."""
    try:
        with open(folder / "proc_trace.jsonl", "rb") as handle:
            first = handle.readline()
        record = json.loads(first)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def wait_for_snapshots(root: Path, count: int, timeout: float = 60.0) -> Path:
    """The folder of the one session under ``root`` once it has ``count`` snapshots."""

    def ready() -> Path | None:
        for trace in root.glob("sessions/*/proc_trace.jsonl"):
            if trace.read_bytes().count(b'"event":"snapshot"') >= count:
                return trace.parent
        return None

    folder: Path = wait_for(ready, timeout, f"{count} snapshots under {root}")
    return folder


def crash_wrapper(proc: subprocess.Popen[bytes], folder: Path) -> None:
    """SIGKILL the wrapper mid-session (as the OOM killer would), then its orphaned child."""
    import signal

    header = trace_header(folder) or {}
    proc.kill()
    proc.wait(timeout=10)
    child = header.get("pid")
    if isinstance(child, int):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()


def index_records(root: Path) -> list[dict[str, Any]]:
    """Every line of the index, each required to be a JSON object."""
    path = root / "sessions.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(isinstance(r, dict) for r in records)
    return records


def folders(root: Path) -> set[str]:
    base = root / "sessions"
    if not base.exists():
        return set()
    return {p.name for p in base.iterdir() if not p.name.startswith(".")}


def ctrl_c_at_a_terminal(argv: list[str], ready_file: Path, env: dict[str, str]) -> int:
    """Run ``argv`` as a session leader on a pseudo-terminal, type Ctrl-C once it is ready.

    ``ready_file`` is where the workload says it is ready (count-signals).
    Returns the exit status.
    """
    import pty

    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.execve(argv[0], argv, env)
    try:
        wait_for(lambda: (read_json(ready_file) or {}).get("ready"), what="workload ready")
        os.write(master, b"\x03")  # Ctrl-C, typed
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    return os.waitstatus_to_exitcode(status)


def main_in_new_python(
    before: str, argv: list[str], after: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``status = main(argv)`` in a new interpreter, with code run ``before`` and ``after`` it.

    For what a test must change in the process itself (the platform, the
    signal module, a method to spy on) without touching the test process.
    """
    code = (
        f"{before}\nfrom autoskillit_trace.__main__ import main\nstatus = main({argv!r})\n{after}\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def modules_run_imports(root: Path, env: dict[str, str], watched: set[str]) -> list[str]:
    """Which of ``watched`` (names or their packages) a real ``run -- true`` imported.

    Runs ``main`` in a fresh interpreter, logging to stderr as by default;
    fails if the run itself did not succeed.
    The interpreter starts without ``site`` (``-S``), the package and the
    installed libraries on its path: an editable install's finder, loaded by a
    ``.pth`` file at start-up, imports pathlib and contextlib itself, which a
    regular install never does.
    """
    import autoskillit_trace

    package_parent = os.path.dirname(os.path.dirname(autoskillit_trace.__file__))
    path = os.pathsep.join([package_parent, *(p for p in sys.path if os.path.isdir(p))])
    code = (
        "import sys\n"
        "from autoskillit_trace.__main__ import main\n"
        f"status = main(['run', '--log-dir', {str(root)!r}, '--', 'true'])\n"
        f"watched = {sorted(watched)!r}\n"
        "hits = sorted(m for m in sys.modules if m in watched or m.split('.')[0] in watched)\n"
        "print(repr([status, hits]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": path},
    )
    status, hits = ast.literal_eval(proc.stdout or "[None, None]")
    assert status == 0, proc.stderr
    return list(hits)


def event_shape(events: list[Any]) -> list[tuple[Any, ...]]:
    """Events as (level, event, fields) without their timing."""
    return [
        (e.level, e.event, {k: v for k, v in e.fields.items() if k != "duration_sec"})
        for e in events
    ]
