"""A corpus of bad input: each gets one clear line, its exit status, and no traceback.

Every case runs the real wrapper against a log root that already holds a
finished session; afterwards that session's files are byte for byte what they
were (usage and configuration errors write nothing at all).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import KNOWN_FORMATS, clean_env, run_traced, tracer, workload

from autoskillit_trace.jsonl import iter_file, parse_lines
from autoskillit_trace.timeutil import parse_duration

PREFIX = "autoskillit-trace run: error: "
ENV = "AUTOSKILLIT_LINUX_TRACING__"
ID_RULE = "expected [A-Za-z0-9][A-Za-z0-9._-]{0,127} without '..'"
INTERVAL_RANGE = "linux_tracing.proc_interval: expected a number of seconds from 0.01 to 86400"


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str | bytes]  # after ``run``; "{root}" is the log root
    message: str  # what the one line must contain
    status: int = 2
    config: str | bytes | None = None  # the project's .autoskillit/config.yaml
    env: dict[str, str] = field(default_factory=dict)


def opts(*args: str | bytes) -> list[str | bytes]:
    """Options, then ``-- true``."""
    return ["--log-dir", "{root}", *args, "--", "true"]


def config(text: str | bytes, message: str) -> Case:
    return Case(f"config: {message[:40]}", opts(), message, config=text)


CASES = [
    # -- the configuration file -----------------------------------------------------
    config("linux_tracing:\n  enabled: a: b\n", "line 2: YAML does not parse"),
    config("linux_tracing:\n  log_dir: [unclosed\n", "YAML does not parse"),
    config("linux_tracing:\n\t enabled: true\n", "line 2: YAML does not parse"),
    config("tracing:\n  enabled: true\n", "unknown section 'tracing'"),
    config(
        "linux_tracing:\n  log_dir: ~no-such-user-here/logs\n",
        "linux_tracing.log_dir: there is no user 'no-such-user-here' here for "
        "'~no-such-user-here/logs'; expected an absolute path",
    ),
    config(
        'linux_tracing:\n  log_dir: "/tmp/x\\x00y"\n',
        "linux_tracing.log_dir: a path cannot hold a NUL byte; expected an absolute path",
    ),
    config(
        "linux_tracing:\n  proc_intervl: 1\n",
        "unknown key 'linux_tracing.proc_intervl' (did you mean 'proc_interval'?)",
    ),
    config(
        "linux_tracing:\n  proc_interval: fast\n",
        "linux_tracing.proc_interval: expected a number of seconds from 0.01 to 86400, got 'fast'",
    ),
    config(
        "linux_tracing:\n  enabled: 'yes'\n",
        "linux_tracing.enabled: expected true or false, got 'yes'",
    ),
    config(
        "linux_tracing:\n  max_sessions: 2.5\n",
        "linux_tracing.max_sessions: expected a whole number of at least 1, got 2.5",
    ),
    config(
        "linux_tracing:\n  max_sessions: 0\n",
        "linux_tracing.max_sessions: expected a whole number of at least 1, got 0",
    ),
    config(
        "linux_tracing:\n  proc_interval: -1\n",
        "linux_tracing.proc_interval: expected a number of seconds from 0.01 to 86400, got -1",
    ),
    config(
        "linux_tracing:\n  proc_interval: .inf\n",
        "linux_tracing.proc_interval: expected a number of seconds from 0.01 to 86400, got inf",
    ),
    config(
        "linux_tracing:\n  log_dir: relative/logs\n",
        "linux_tracing.log_dir: expected an absolute path or one starting with '~'",
    ),
    config(
        "linux_tracing:\n  redact_patterns: ['(']\n",
        "linux_tracing.redact_patterns: pattern 1 '(' does not compile",
    ),
    config(
        "linux_tracing:\n  agent_format: gemni\n",
        f"linux_tracing.agent_format: unknown stream format 'gemni' {KNOWN_FORMATS}",
    ),
    config(b"linux_tracing:\n  log_dir: /caf\xe9\n", "line 2: not UTF-8 text (byte 0xe9)"),
    config("- just\n- a list\n", "expected a mapping of sections such as 'linux_tracing:'"),
    config("linux_tracing:\n  proc_interval: 0.00001\n", f"{INTERVAL_RANGE}, got 1e-05"),
    config("linux_tracing:\n  proc_interval: 1e-9\n", f"{INTERVAL_RANGE}, got 1e-09"),
    config("linux_tracing:\n  proc_interval: 86401\n", f"{INTERVAL_RANGE}, got 86401"),
    # -- the environment ------------------------------------------------------------
    Case(
        "env: wrong type",
        opts(),
        f"{ENV}PROC_INTERVAL: linux_tracing.proc_interval: expected a number of seconds",
        env={f"{ENV}PROC_INTERVAL": "soon"},
    ),
    *(
        Case(
            f"env: interval {value}",
            opts(),
            f"{ENV}PROC_INTERVAL: {INTERVAL_RANGE}, got '{value}'",
            env={f"{ENV}PROC_INTERVAL": value},
        )
        for value in ("0.00001", "1e-9", "0.0099")
    ),
    Case(
        "env: unknown agent format",
        opts("--agent-events"),
        f"{ENV}AGENT_FORMAT: linux_tracing.agent_format: unknown stream format 'cod'",
        env={f"{ENV}AGENT_FORMAT": "cod"},
    ),
    Case(
        "env: unknown key",
        opts(),
        f"{ENV}COLOUR: unknown key 'linux_tracing.colour'",
        env={f"{ENV}COLOUR": "red"},
    ),
    Case(
        "env: bad session id",
        opts(),
        "AUTOSKILLIT_SESSION_ID: invalid session id 'a/b': it contains '/'",
        env={"AUTOSKILLIT_SESSION_ID": "a/b"},
    ),
    # -- options ----------------------------------------------------------------------
    Case("no such option", opts("--bogus"), "no such option: '--bogus'"),
    Case("option without value", ["--interval"], "option --interval needs a value (SECONDS)"),
    Case("value missing at the end", ["-q", "--log-dir"], "option --log-dir needs a value (PATH)"),
    Case(
        "value missing",
        ["--log-dir", "{root}", "--interval", "--", "true"],
        "option --interval needs a value (SECONDS)",
    ),
    Case("flag with a value", opts("--no-trace=1"), "option --no-trace takes no value"),
    Case(
        "interval not a number",
        opts("--interval", "abc"),
        "--interval: linux_tracing.proc_interval: expected a number of seconds from 0.01 to 86400, "
        "got 'abc'",
    ),
    Case(
        "interval zero", opts("--interval", "0"), "expected a number of seconds from 0.01 to 86400"
    ),
    Case("interval nan", opts("--interval", "nan"), "from 0.01 to 86400, got 'nan'"),
    Case("interval inf", opts("--interval", "inf"), "from 0.01 to 86400, got 'inf'"),
    *(
        Case(f"interval {value}", opts("--interval", value), f"{INTERVAL_RANGE}, got '{value}'")
        for value in ("0.00001", "1e-6", "1e-9", "0.0099", "86401", "1e300")
    ),
    *(
        Case(f"{option} too long", opts(option, value), f"option {option}: {value!r} is too long")
        for option, value in (
            ("--timeout", "366d"),
            ("--timeout", "1e308w"),
            ("--idle-timeout", "1e300"),
            ("--kill-grace", "1e10"),
        )
    ),
    *(
        Case(
            f"{option} empty",
            opts(option, ""),
            f"option {option}: the value is empty; expected {metavar} "
            f"(leave {option} out for the default)",
        )
        for option, metavar in (
            ("--log-dir", "PATH"),
            ("--textfile-dir", "PATH"),
            ("--pushgateway", "URL"),
            ("--junit", "FILE"),
            ("--session-id", "ID"),
            ("--interval", "SECONDS"),
            ("--agent-format", "NAME"),
        )
    ),
    Case(
        "agent format",
        opts("--agent-events", "--agent-format", "codx"),
        "--agent-format: linux_tracing.agent_format: unknown stream format 'codx' "
        f"{KNOWN_FORMATS}; expected auto or the name of a stream format",
    ),
    Case("log format", opts("--log-format", "xml"), "'xml' is not one of auto, console, json"),
    Case("log format empty", opts("--log-format", ""), "'' is not one of auto, console, json"),
    Case("long flag with a value", opts("--quiet=yes"), "option --quiet takes no value"),
    Case("option not UTF-8", opts("--log-dir", b"/tmp/\xff\xfe"), "--log-dir: value is not valid"),
    Case("session id not UTF-8", opts("--session-id", b"s\xff"), "value is not valid UTF-8"),
    # -- job names and the regression thresholds --------------------------------------
    Case("job empty", opts("--job", ""), "option --job: the value is empty; expected NAME"),
    Case("job not UTF-8", opts("--job", b"j\xff"), "--job: value is not valid UTF-8"),
    Case(
        "job with a newline",
        opts("--job", "a\nb"),
        "--job: linux_tracing.job: invalid job name 'a\\nb': it holds a control character "
        "(a newline, a tab...); expected a job name of 1 to 200 printable characters, or empty",
    ),
    Case(
        "env: job too long",
        opts(),
        "AUTOSKILLIT_TRACE_JOB: linux_tracing.job: invalid job name",
        env={"AUTOSKILLIT_TRACE_JOB": "j" * 201},
    ),
    Case(
        "env: job with a tab",
        opts(),
        "AUTOSKILLIT_TRACE_JOB: linux_tracing.job: invalid job name 'x\\ty'",
        env={"AUTOSKILLIT_TRACE_JOB": "x\ty"},
    ),
    config("linux_tracing:\n  job: 5\n", "linux_tracing.job: expected a job name"),
    config(
        "linux_tracing:\n  regression_runs: 100000\n",
        "linux_tracing.regression_runs: expected a whole number from 0 to 1000, got 100000",
    ),
    config(
        "linux_tracing:\n  regression_factor: 1\n",
        "linux_tracing.regression_factor: expected a number above 1, got 1",
    ),
    Case(
        "env: negative floor",
        opts(),
        f"{ENV}REGRESSION_FLOOR_RSS_MB: linux_tracing.regression_floor_rss_mb: expected a number "
        "of MiB of at least 0, got '-1'",
        env={f"{ENV}REGRESSION_FLOOR_RSS_MB": "-1"},
    ),
    # -- session ids ------------------------------------------------------------------
    Case("id with /", opts("--session-id", "a/b"), "it contains '/'"),
    Case("id ..", opts("--session-id", ".."), "it must start with a letter or a digit"),
    Case("id with ..", opts("--session-id", "a..b"), "it contains '..'"),
    Case("id ../ escape", opts("--session-id", "x/../../etc"), "it contains '/'"),
    Case("id with space", opts("--session-id", "my session"), "it contains ' '"),
    Case("id with newline", opts("--session-id", "a\nb"), "it contains '\\n'"),
    Case("id with control", opts("--session-id", "a\x07b"), "it contains '\\x07'"),
    Case("id of 500 chars", opts("--session-id", "a" * 500), "500 characters long (at most 128)"),
    # -- the command ------------------------------------------------------------------
    Case("missing --", ["--log-dir", "{root}", "sleep", "1"], "missing '--' before the command"),
    Case("no command", [], "no command given; usage: autoskillit-trace run"),
    Case("only options", ["--log-dir", "{root}"], "no command given; usage: autoskillit-trace run"),
    Case("nothing after --", ["--log-dir", "{root}", "--"], "no command given after '--'"),
]
SPAWN_CASES = [
    Case("command not found", ["--", "no-such-cmd-zz"], "no-such-cmd-zz: command not found", 127),
    Case("no such path", ["--", "/no/such/bin"], "/no/such/bin: No such file or directory", 127),
    Case("empty command name", ["--", ""], "'': command not found", 127),
    Case("name not UTF-8", ["--", b"\xff\xfe"], "\\xff\\xfe: command not found", 127),
    Case("path not UTF-8", ["--", b"/no/caf\xe9"], "/no/caf\\xe9: No such file or directory", 127),
    Case("name with a newline", ["--", "a\nb"], "a\\nb: command not found", 127),
    Case("a directory", ["--", "/"], "/: Permission denied", 126),
    Case("not executable", ["--", "{plain}"], ": Permission denied", 126),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log root holding one finished session, to copy for each case."""
    root = tmp_path_factory.mktemp("template") / "logs"
    traced = run_traced(root, workload("sleep", 0.1), interval=0.05)
    assert traced.proc.returncode == 0
    return root


def contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run_case(case: Case, root: Path, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    project = tmp_path / "project"
    project.mkdir()
    if case.config is not None:
        path = project / ".autoskillit" / "config.yaml"
        path.parent.mkdir()
        data = case.config if isinstance(case.config, bytes) else case.config.encode()
        path.write_bytes(data)
    plain = tmp_path / "plain.sh"
    plain.write_text("#!/bin/sh\necho hi\n")

    def fill(arg: str | bytes) -> str | bytes:
        if isinstance(arg, bytes):
            return arg
        return arg.replace("{root}", str(root)).replace("{plain}", str(plain))

    argv = [sys.executable, "-m", "autoskillit_trace", "run", *map(fill, case.args)]
    env = clean_env(tmp_path, **case.env)
    return subprocess.run(
        argv, env=env, cwd=project, capture_output=True, stdin=subprocess.DEVNULL, timeout=30
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_and_damages_nothing(
    case: Case, recorded: Path, tmp_path: Path
) -> None:
    root = tmp_path / "logs"
    shutil.copytree(recorded, root)
    before = contents(root)
    proc = run_case(case, root, tmp_path)
    stderr = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == case.status, stderr
    assert proc.stdout == b""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(PREFIX), lines[0]
    assert case.message in lines[0], lines[0]
    assert contents(root) == before


@pytest.mark.parametrize("case", SPAWN_CASES, ids=[c.name for c in SPAWN_CASES])
def test_command_that_cannot_start(case: Case, recorded: Path, tmp_path: Path) -> None:
    """Status as a shell gives it; the failure is recorded beside the old session."""
    root = tmp_path / "logs"
    shutil.copytree(recorded, root)
    before = contents(root)
    proc = run_case(Case(case.name, ["--log-dir", "{root}", "-q", *case.args], ""), root, tmp_path)
    assert proc.returncode == case.status
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autoskillit-trace: "), lines
    assert lines[0].endswith(case.message), lines
    after = contents(root)
    for name, data in before.items():
        assert after[name].startswith(data), name  # the index only grew
    index, skipped = parse_lines(after["sessions.jsonl"])
    assert skipped == 0 and [r["subtype"] for r in index] == ["success", "spawn_failed"]
    assert index[-1]["termination_reason"].endswith(case.message)  # as shown, one line


# -- the other commands -------------------------------------------------------------

STORE_COMMANDS = [
    ["ls"], ["show", "x"], ["compare", "x"], ["trend", "x"], ["prune"], ["config", "show"],
    ["report", "--out", "site"],
]  # fmt: skip


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_empty_log_dir_is_refused_by_every_command(command: list[str], tmp_path: Path) -> None:
    """``--log-dir ''`` (an unset variable) would silently mean the default store."""
    env = clean_env(tmp_path)
    proc = subprocess.run(
        tracer(*command, "--log-dir", ""), env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(
        "autoskillit-trace: error: option --log-dir: the value is empty; expected PATH "
        "(leave --log-dir out for the default)"
    )
    assert not Path(env["XDG_DATA_HOME"]).exists()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            [],
            "compare, config, ls, prune, report, run, show, trend (see 'autoskillit-trace --help')",
        ),
        (["config"], "show (see 'autoskillit-trace config --help')"),
    ],
)
def test_a_missing_command_is_one_line(command: list[str], expected: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        tracer(*command), env=clean_env(tmp_path), cwd=tmp_path, capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"autoskillit-trace: error: missing command; expected one of {expected}\n"


def test_bytes_of_an_argument_that_are_not_utf8_are_shown_as_hex(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    for command in (["show", b"s\xff"], ["trend", b"j\xfe"], ["ls", "--since", b"\xff"]):
        argv = [sys.executable, "-m", "autoskillit_trace", *command, "--log-dir", tmp_path]
        proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True)
        assert proc.returncode in (1, 2) and proc.stderr.count(b"\n") == 1, proc.stderr
        shown = os.fsencode(command[-1]).decode("ascii", "backslashreplace")
        assert f"'{shown}'".encode() in proc.stderr, proc.stderr  # 's\\xff'
        assert b"\\udc" not in proc.stderr


EMPTY_SESSIONS = [["show", ""], ["show", "", "--processes"], ["compare", ""], ["compare", "x", ""]]


@pytest.mark.parametrize("command", EMPTY_SESSIONS, ids=lambda c: " ".join(map(repr, c)))
def test_an_empty_session_name_is_refused(command: list[str], tmp_path: Path) -> None:
    """An unset variable (``show "$ID"``) is bad input, not a session that is missing."""
    env = clean_env(tmp_path)
    proc = subprocess.run(tracer(*command), env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "the session is empty; expected its id or folder name" in proc.stderr
    assert not Path(env["XDG_DATA_HOME"]).exists()


# -- values at the edges of what is accepted work ----------------------------------------


@pytest.mark.parametrize("how", ["option", "environment", "project file"])
def test_the_finest_interval_works(how: str, log_root: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".autoskillit").mkdir(parents=True)
    env = clean_env(tmp_path)
    if how == "environment":
        env[f"{ENV}PROC_INTERVAL"] = "0.01"
    elif how == "project file":
        (project / ".autoskillit" / "config.yaml").write_text(
            "linux_tracing:\n  proc_interval: 0.01\n"
        )
    interval = 0.01 if how == "option" else None
    traced = run_traced(log_root, workload("sleep", 0.3), interval=interval, env=env, cwd=project)
    assert traced.proc.returncode == 0, traced.stderr
    summary = traced.session.summary
    assert summary["subtype"] == "success" and summary["snapshot_interval_seconds"] == 0.01
    assert summary["snapshot_count"] >= 2


TINY_LIMITS = [
    ("--timeout", "1e-9", "timeout"),
    ("--timeout", "0.000001s", "timeout"),
    ("--idle-timeout", "1e-9", "idle_stall"),
]


@pytest.mark.parametrize(("option", "value", "subtype"), TINY_LIMITS)
def test_a_tiny_limit_stops_the_command(
    option: str, value: str, subtype: str, log_root: Path
) -> None:
    traced = run_traced(log_root, ["sleep", "30"], interval=0.01, extra=("-q", option, value))
    assert traced.proc.returncode == 124, traced.stderr
    assert traced.session.summary["subtype"] == subtype


def test_no_kill_grace_kills_at_once(log_root: Path) -> None:
    """``--kill-grace 0``: SIGKILL right after the SIGTERM the command ignores."""
    ignore_term = ["sh", "-c", "trap '' TERM; sleep 30"]
    extra = ("-q", "--kill-grace", "0", "--timeout", "0.2")
    traced = run_traced(log_root, ignore_term, interval=0.05, extra=extra)
    assert traced.proc.returncode == 124, traced.stderr
    assert traced.session.summary["subtype"] == "timeout"


@pytest.mark.parametrize(
    "extra",
    [
        ("--no-trace", "--timeout", "365d", "--idle-timeout", "365d", "--kill-grace", "365d"),
        ("--agent-events", "--interval", "86400", "--timeout", "365d", "--kill-grace", "52w"),
    ],
    ids=["untraced", "agent-events"],
)
def test_the_longest_limits_work(extra: tuple[str, ...], log_root: Path) -> None:
    traced = run_traced(log_root, workload("echo", "hi"), interval=None, extra=("-q", *extra))
    assert traced.proc.returncode == 0, traced.stderr
    assert traced.stdout == "hi\n"


def test_the_longest_kill_grace_while_stopping(log_root: Path) -> None:
    """The wait for a year's grace, the tree gone at SIGTERM: ends at once with 124."""
    extra = ("-q", "--no-trace", "--kill-grace", "365d", "--timeout", "0.1")
    traced = run_traced(log_root, ["sleep", "30"], interval=None, extra=extra)
    assert traced.proc.returncode == 124, traced.stderr


def test_child_arguments_pass_through_byte_for_byte(log_root: Path, tmp_path: Path) -> None:
    weird: list[bytes] = [
        b"\xff\xfe",
        b"caf\xc3\xa9",
        b"caf\xe9",
        b"",
        b" ",
        b"a\nb",
        b"--",
        b"--interval",
        b"-q",
        b"$(echo no)",
        b"\x01\x7f",
        "日本".encode(),
    ]
    out = tmp_path / "argv.json"
    argv: list[str | bytes] = [*tracer("run", "--log-dir", log_root, "-q", "--")]
    argv += [*workload("argv", out), *weird]
    proc = subprocess.run(argv, env=clean_env(tmp_path), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert [bytes.fromhex(h) for h in json.loads(out.read_text())] == weird
    summary = json.loads(next(log_root.glob("sessions/*/summary.json")).read_text())
    command = summary["skill_command"]
    assert "\\xff\\xfe" in command and "caf\\xe9" in command and "日本" in command


# -- the store's own files, broken ------------------------------------------------------


def test_broken_index_lines_are_kept_and_skipped(log_root: Path) -> None:
    log_root.mkdir()
    garbage = b'not json\n{"half": \n[1,2]\n\xff\xfe\x00binary\n{"dir_name": "cut-by-a-cr'
    (log_root / "sessions.jsonl").write_bytes(garbage)
    traced = run_traced(log_root, ["true"], extra=("-q",))
    assert traced.proc.returncode == 0 and traced.stderr == ""
    data = (log_root / "sessions.jsonl").read_bytes()
    assert data.startswith(garbage)
    records, skipped = parse_lines(data)
    assert skipped == 5  # kept as they were, skipped by readers
    assert [r.get("subtype") for r in records] == ["success"]  # not glued to the cut line
    assert list(iter_file(log_root / "sessions.jsonl")).count(None) == 5


SPECIAL_FILES = ["summary.json", "proc_trace.jsonl", "anomalies.jsonl", "processes.jsonl"]
READERS = [
    ["show", "s1"], ["show", "s1", "--markdown"], ["show", "s1", "--processes"],
    ["compare", "s1", "s1"], ["ls"], ["trend", "x"], ["prune", "--dry-run"],
    ["report", "--out", "site"],
]  # fmt: skip


def _one_line_or_none(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") <= 1, proc.stderr


@pytest.mark.parametrize("name", [*SPECIAL_FILES, "sessions.jsonl"])
def test_a_fifo_in_a_files_place_never_blocks_a_reader(
    name: str, recorded: Path, tmp_path: Path
) -> None:
    """A FIFO with no writer would block an open forever (a cron prune, a CI step)."""
    root = tmp_path / "logs"
    shutil.copytree(recorded, root)
    session = next((root / "sessions").iterdir())
    session.rename(session.with_name("s1"))
    index = root / "sessions.jsonl"
    index.write_text(index.read_text().replace(session.name, "s1"))
    target = index if name == "sessions.jsonl" else root / "sessions" / "s1" / name
    target.unlink(missing_ok=True)  # anomalies.jsonl: made at its first line
    os.mkfifo(target)
    env = clean_env(tmp_path)
    for command in READERS:
        argv = tracer(*command, "--log-dir", root)
        proc = subprocess.run(
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        _one_line_or_none(proc)
    traced = subprocess.run(
        tracer("run", "-q", "--log-dir", root, "--", "sh", "-c", "echo hi; exit 3"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert (traced.returncode, traced.stdout) == (3, "hi\n"), traced.stderr


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_config_file_that_is_no_file_is_one_line(kind: str, tmp_path: Path) -> None:
    """Before the command starts: no hang on a FIFO, no endless read of a device."""
    path = tmp_path / ".autoskillit" / "config.yaml"
    path.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(kind)
    env = clean_env(tmp_path)
    for command in (["run", "--", "echo", "hi"], ["config", "show"]):
        proc = subprocess.run(
            tracer(*command), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.endswith(f"{path}: cannot read: not a regular file\n"), proc.stderr


def test_broken_trace_lines_do_not_stop_recovery(log_root: Path) -> None:
    from autoskillit_trace.store.root import LogRoot

    root = LogRoot(log_root)
    root.ensure()
    folder = Path(root.create_session_dir("crashed-one"))  # marked running, as a session is
    start = {"event": "session_start", "session_id": "crashed-one", "dir_name": "crashed-one"}
    snap = {"event": "snapshot", "seq": 0, "ts": "2026-01-01T00:00:00+00:00", "oom_score": 900}
    lines = [json.dumps(start), "garbage", json.dumps(snap), "\x00\xff", '{"event": "snap']
    (folder / "proc_trace.jsonl").write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
    traced = run_traced(log_root, workload("sleep", 0.2), interval=0.05, extra=("-q",))
    assert traced.proc.returncode == 0 and traced.stderr == ""
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["subtype"] == "crashed"
    assert summary["snapshot_count"] == 1 and summary["peak_oom_score"] == 900
    assert summary["anomalies_by_kind"] == {"oom_critical": 1}


# -- durations --------------------------------------------------------------------------

BAD_DURATIONS = [
    ("", "'' is not a duration"),
    ("abc", "'abc' is not a duration; expected a number with an optional unit"),
    ("10x", "'10x' is not a duration"),
    ("1.5.2m", "'1.5.2m' is not a duration"),
    ("-5", "expected a finite number >= 0"),
    ("-1h", "expected a finite number >= 0"),
    ("inf", "expected a finite number >= 0"),
    ("nan", "expected a finite number >= 0"),
    ("m", "'m' is not a duration"),
    ("5 m s", "'5 m s' is not a duration"),
]


@pytest.mark.parametrize(("text", "message"), BAD_DURATIONS)
def test_durations_that_do_not_parse(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) + len(SPAWN_CASES) + len(BAD_DURATIONS) >= 30
    assert len(CASES) >= 30
