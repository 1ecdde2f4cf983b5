"""Faults in the tracing never reach the command: same output, same status, one warning.

Real faults only: a log root that is a file or cannot be written, a disk that
fills up mid-session (a small tmpfs, or RLIMIT_FSIZE on the wrapper), and a
command whose /proc files the wrapper may not read (a setuid command under a
wrapper run as ``nobody``, with /proc mounted ``hidepid=2`` in a private
mount namespace for the strongest case).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import clean_env, main_in_new_python, tracer

from autoskillit_trace.jsonl import parse_lines

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root")
SCRIPT = "echo to-stdout; echo to-stderr >&2; sleep {sleep}; exit 7"


def can_mount() -> bool:
    if not IS_ROOT or shutil.which("mount") is None:
        return False
    with tempfile.TemporaryDirectory() as where:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", where]).returncode
        if ok == 0:
            subprocess.run(["umount", where], check=True)
            return True
    return False


CAN_MOUNT = can_mount()


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder that ``nobody`` can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="ast-faults-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody() -> list[str]:
    return ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]


@pytest.fixture
def nobody_env(open_dir: Path) -> Iterator[dict[str, str]]:
    """What the wrapper needs in its environment to run as ``nobody``.

    The clone and its venv may sit where ``nobody`` cannot go (a fresh clone
    in a 0700 temporary folder: "No module named autoskillit_trace"), so the
    package is copied to a folder anyone can read and found through
    PYTHONPATH (``run`` needs nothing else from the venv).  When ``nobody``
    still cannot start it or reach the test's folder, the test is skipped,
    saying why.
    """
    import autoskillit_trace

    readable = Path(tempfile.mkdtemp(prefix="ast-package-"))
    try:
        readable.chmod(0o755)
        package = Path(autoskillit_trace.__file__).parent
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(package, readable / package.name, ignore=ignore)
        extra = {"PYTHONPATH": str(readable)}
        code = f"import os, autoskillit_trace; os.listdir({str(open_dir)!r})"
        probe = subprocess.run(
            [*as_nobody(), sys.executable, "-c", code],
            env={**clean_env(open_dir), **extra},
            cwd=open_dir,
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(
                f"nobody cannot run {sys.executable} on a copy of the package "
                f"or reach {open_dir}: {why}"
            )
        yield extra
    finally:
        shutil.rmtree(readable, ignore_errors=True)


def wrap(
    root: Path,
    command: list[str],
    cwd: Path,
    *,
    interval: float = 0.05,
    prefix: list[str] | None = None,
    preexec: Any = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = tracer("run", "--log-dir", root, "--interval", interval, "--log-format", "json")
    proc = subprocess.run(
        [*(prefix or []), *argv, "--", *command],
        env=clean_env(cwd, HOME=str(cwd), **(env or {})),
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
        timeout=60,
    )
    return proc


def one_warning(proc: subprocess.CompletedProcess[str]) -> str:
    """The single warning line's problem; no traceback, and nothing else that is not ours."""
    assert "Traceback" not in proc.stderr
    warnings = []
    for line in proc.stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            # Anomalies in the command (a 2 ms interval catches transient ones) are not faults.
            if record["level"] != "info" and record["event"] != "anomaly detected":
                warnings.append(record)
        else:
            assert line == "to-stderr", line  # the command's own stderr
    assert len(warnings) == 1, proc.stderr
    assert warnings[0]["event"] == "tracing fault"
    problem = str(warnings[0]["problem"])
    assert problem.endswith("; the command goes on")
    return problem


def assert_command_unharmed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 7
    assert proc.stdout == "to-stdout\n"
    assert "to-stderr" in proc.stderr.splitlines()


def assert_valid_store(root: Path) -> dict[str, int]:
    """Whatever was written is valid: whole JSON, or JSON lines with at most a cut last line."""
    counts = {"summaries": 0, "traces": 0, "index_lines": 0}
    if not root.is_dir():
        return counts
    for path in root.rglob("*"):
        if not path.is_file() or path.name == ".sessions.lock":
            continue
        data = path.read_bytes()
        if path.parent.name == ".running":  # the marker of a session left unfinished
            assert data == b"" and (root / "sessions" / path.name).is_dir(), path
        elif path.name == "summary.json":
            assert isinstance(json.loads(data), dict), path
            counts["summaries"] += 1
        elif path.suffix == ".jsonl":
            records, skipped = parse_lines(data)
            cut = not data.endswith(b"\n") and bool(data)
            assert skipped <= (1 if cut else 0), (path, data[-200:])
            if path.name == "sessions.jsonl":
                counts["index_lines"] += len(records)
            if path.name == "proc_trace.jsonl":
                counts["traces"] += 1
                assert records and records[0]["event"] == "session_start"
        else:
            raise AssertionError(f"unexpected file {path}")  # e.g. a left-over temporary
    return counts


# -- the log root cannot be used --------------------------------------------------


def test_log_root_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.write_text("mine\n")
    proc = wrap(root, ["sh", "-c", SCRIPT.format(sleep=0)], tmp_path)
    assert_command_unharmed(proc)
    assert f"log folder {root} is not a folder" in one_warning(proc)
    assert root.read_text() == "mine\n"


def test_log_root_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    root = tmp_path / "blocker" / "logs"
    proc = wrap(root, ["sh", "-c", SCRIPT.format(sleep=0)], tmp_path)
    assert_command_unharmed(proc)
    assert f"cannot create log folder {root}: Not a directory" in one_warning(proc)


@pytest.mark.skipif(not CAN_MOUNT, reason="needs root and mount -t tmpfs")
def test_log_root_on_a_read_only_file_system(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=64k") as where:
        proc = wrap(where / "logs", ["sh", "-c", SCRIPT.format(sleep=0)], tmp_path)
    assert_command_unharmed(proc)
    assert "Read-only file system" in one_warning(proc)


def test_log_root_without_write_permission(request: pytest.FixtureRequest, open_dir: Path) -> None:
    locked = open_dir / "locked"
    locked.mkdir(mode=0o555)
    prefix: list[str] = []
    env: dict[str, str] = {}
    if IS_ROOT:  # root writes anywhere: run the wrapper as another user
        prefix = as_nobody()
        env = request.getfixturevalue("nobody_env")
        os.chown(open_dir, pwd.getpwnam("nobody").pw_uid, -1)
    command = ["sh", "-c", SCRIPT.format(sleep=0)]
    proc = wrap(locked / "logs", command, open_dir, prefix=prefix, env=env)
    assert_command_unharmed(proc)
    assert f"cannot create log folder {locked / 'logs'}: Permission denied" in one_warning(proc)
    assert list(locked.iterdir()) == []


def test_a_summary_this_user_may_not_read_is_never_replaced(
    request: pytest.FixtureRequest, open_dir: Path
) -> None:
    """Unreadable is not damaged: prune leaves such a summary.json as it is."""
    prefix: list[str] = []
    env: dict[str, str] = {}
    if IS_ROOT:  # root reads anything: prune as another user
        prefix = as_nobody()
        env = request.getfixturevalue("nobody_env")
        os.chown(open_dir, pwd.getpwnam("nobody").pw_uid, -1)
    root = open_dir / "logs"
    assert wrap(root, ["true"], open_dir, prefix=prefix, env=env).returncode == 0
    (summary,) = root.glob("sessions/*/summary.json")
    before = summary.read_bytes()
    summary.chmod(0)
    pruned = subprocess.run(
        [*prefix, *tracer("prune", "--log-dir", root)],
        env=clean_env(open_dir, HOME=str(open_dir), **env),
        cwd=open_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pruned.returncode == 0 and "Traceback" not in pruned.stderr, pruned.stderr
    assert (summary.stat().st_mode & 0o777, summary.read_bytes()) == (0, before)


# -- the disk fills up during the session ---------------------------------------------


def _fsize_limit(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("how", ["tmpfs-full", "rlimit-fsize"])
def test_disk_fills_up_during_the_session(tmp_path: Path, how: str) -> None:
    command = ["sh", "-c", SCRIPT.format(sleep=2)]  # some 200 snapshots at 0.01 s
    if how == "tmpfs-full":
        if not CAN_MOUNT:
            pytest.skip("needs root and mount -t tmpfs")
        with tmpfs(tmp_path / "small", "size=40k") as where:
            root = where / "logs"
            proc = wrap(root, command, tmp_path, interval=0.01)
            counts = assert_valid_store(root)
            trace = next(root.glob("sessions/*/proc_trace.jsonl"))
            assert trace.stat().st_size > 8192  # it did fill the disk
    else:
        root = tmp_path / "logs"
        proc = wrap(root, command, tmp_path, interval=0.01, preexec=_fsize_limit(30_000))
        counts = assert_valid_store(root)
        trace = next(root.glob("sessions/*/proc_trace.jsonl"))
        assert 25_000 < trace.stat().st_size <= 30_000
    assert_command_unharmed(proc)
    problem = one_warning(proc)
    assert "proc_trace.jsonl" in problem
    assert ("No space left on device" if how == "tmpfs-full" else "File too large") in problem
    assert counts["traces"] == 1


# -- /proc that cannot be read ---------------------------------------------------------


@needs_root
@pytest.mark.parametrize("hidden", [False, True], ids=["setuid-command", "hidepid-proc"])
def test_unreadable_proc_files(open_dir: Path, nobody_env: dict[str, str], hidden: bool) -> None:
    """A setuid command under a wrapper run as nobody: its limits are not ours to read.

    With /proc mounted hidepid=2 (in a private mount and pid namespace, so the
    rest of the machine is untouched) the command is invisible altogether.
    """
    if hidden and shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    os.chown(open_dir, pwd.getpwnam("nobody").pw_uid, -1)
    command = open_dir / "setuid-sleep"
    shutil.copy("/bin/sleep", command)
    command.chmod(0o4755)  # owned by root: the command runs as root
    argv = as_nobody()
    if hidden:
        mount = 'mount -o remount,hidepid=2 /proc && exec "$@"'
        ns = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", mount, "sh"]
        if subprocess.run([*ns, "true"], capture_output=True).returncode != 0:
            pytest.skip("cannot remount /proc in a private namespace here")
        argv = [*ns, *argv]
    root = open_dir / "logs"
    # 0.42 s, not a multiple of the interval: no tick lands on the exit itself.
    proc = wrap(root, [str(command), "0.42"], open_dir, interval=0.05, prefix=argv, env=nobody_env)
    assert proc.returncode == 0 and proc.stdout == ""
    # posix_spawn returns once the child's new memory map is in place; the kernel
    # commits the setuid program's credentials a few microseconds later (more on
    # a loaded machine, where the child may wait for a CPU in between).  The
    # first snapshots may still see the child as ours, so the claims below are
    # made from the first snapshot that sees the change on (its limits refused),
    # and the one warning names whichever read failed first.
    problem = one_warning(proc)
    assert "cannot read" in problem
    if not hidden:
        assert "cannot read the limits of process" in problem
        assert "Operation not permitted" in problem
    counts = assert_valid_store(root)
    assert counts == {"summaries": 1, "traces": 1, "index_lines": 1}
    snapshots = [
        json.loads(line)
        for line in next(root.glob("sessions/*/proc_trace.jsonl")).read_text().splitlines()[1:]
    ]
    first = next(n for n, s in enumerate(snapshots) if s["fd_soft_limit"] is None)
    after_exec = snapshots[first:]  # once refused, refused to the end
    assert len(after_exec) >= 3 and all(s["fd_soft_limit"] is None for s in after_exec)
    if hidden:
        # Invisible from then on; but a stat file the first snapshot opened before the
        # change keeps reading (the kernel checks at open), on a loaded machine.
        states = {(s["state"], s["vm_rss_kb"] is None) for s in after_exec}
        assert states in ({(None, True)}, {("sleeping", False)}), states
    else:
        assert all(s["state"] == "sleeping" for s in after_exec), [
            (s["seq"], s["state"], s["elapsed_s"]) for s in snapshots if s["state"] != "sleeping"
        ]


def test_one_fault_one_warning_even_when_everything_fails(tmp_path: Path) -> None:
    """A file where the index goes and a trace that cannot grow: still one warning.

    The limit leaves room for summary.json (~2-4 KB) and not for the trace.
    """
    root = tmp_path / "logs"
    (root / "sessions.jsonl").mkdir(parents=True)  # the index cannot be written
    proc = wrap(
        root,
        ["sh", "-c", SCRIPT.format(sleep=0.5)],
        tmp_path,
        interval=0.01,
        preexec=_fsize_limit(8_000),
    )
    assert_command_unharmed(proc)
    assert "proc_trace.jsonl" in one_warning(proc)
    summary = json.loads(next(root.glob("sessions/*/summary.json")).read_text())
    assert summary["exit_code"] == 7


# -- interrupted rewrites -------------------------------------------------------------

PRUNE_UNDER_LIMIT = """
import resource, sys
from pathlib import Path
from autoskillit_trace.store.root import LogRoot
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    LogRoot(Path(sys.argv[1])).prune(keep=2)
except OSError as exc:
    print(exc.strerror)
"""


def test_prune_that_cannot_rewrite_the_index_removes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    for _ in range(6):
        proc = wrap(root, ["true"], tmp_path)
        assert proc.returncode == 0
    before = {p.name for p in (root / "sessions").iterdir()}
    index = (root / "sessions.jsonl").read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", PRUNE_UNDER_LIMIT, str(root)],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "File too large", out.stderr
    assert {p.name for p in (root / "sessions").iterdir()} == before  # no trash, no loss
    assert (root / "sessions.jsonl").read_bytes() == index  # whole, the old one
    assert sorted(p.name for p in root.iterdir()) == [
        ".running",
        ".sessions.lock",
        "sessions",
        "sessions.jsonl",
    ]
    assert not list((root / ".running").iterdir())  # every session finished
    assert_valid_store(root)


def test_write_atomic_that_fails_leaves_the_old_file(tmp_path: Path) -> None:
    from autoskillit_trace.fsutil import write_atomic

    target = tmp_path / "summary.json"
    target.write_text('{"old": true}\n')
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from autoskillit_trace.fsutil import write_atomic\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n"
        "write_atomic(Path(sys.argv[1]), b'{\"new\": \"' + b'x' * 500 + b'\"}')\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True)
    assert out.returncode != 0 and b"File too large" in out.stderr
    assert target.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    write_atomic(target, b'{"new": 1}\n')
    assert json.loads(target.read_text()) == {"new": 1}


def test_prune_clears_what_a_killed_prune_left(tmp_path: Path) -> None:
    from autoskillit_trace.store.root import LogRoot

    root = tmp_path / "logs"
    for _ in range(3):
        assert wrap(root, ["true"], tmp_path).returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that is gone
    (root / f".sessions.jsonl.{dead.pid}.tmp").write_text('{"cut')
    (root / "sessions" / f".trash-{dead.pid}-old").mkdir()
    LogRoot(root).prune(keep=2)
    names = sorted(p.name for p in root.iterdir())
    assert names == [".running", ".sessions.lock", "sessions", "sessions.jsonl"]
    assert not [p for p in (root / "sessions").iterdir() if p.name.startswith(".")]
    assert len(list((root / "sessions").iterdir())) == 2


@pytest.mark.parametrize("where", ["sample", "finish"])
def test_a_bug_in_tracing_never_reaches_the_command(tmp_path: Path, where: str) -> None:
    """An exception inside the wrapper (a bug) is one warning; the command's output and status."""

    bug = {
        "sample": "from autoskillit_trace import sampler as m\n"
        "def broken(self, now): raise RuntimeError('a bug')\n"
        "m.Sampler.sample = broken",
        "finish": "from autoskillit_trace import session as m\n"
        "def broken(self, outcome): raise RuntimeError('a bug')\n"
        "m.TracedSession.finish = broken",
    }[where]
    argv = ["run", "--log-dir", str(tmp_path / "logs"), "--interval", "0.05", "--log-format",
            "json", "--", "sh", "-c", SCRIPT.format(sleep=0.3)]  # fmt: skip
    proc = main_in_new_python("import sys\n" + bug, argv, "sys.exit(status)", clean_env(tmp_path))
    assert proc.returncode == 7
    assert proc.stdout == "to-stdout\n"
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "tracing fault" in line]
    assert len(warnings) == 1 and "a bug" in warnings[0]
