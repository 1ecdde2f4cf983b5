"""``autoskillit-trace config show``: every value's source; the same errors as ``run``."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import KNOWN_FORMATS, tracer
from terminal import Terminal

from autoskillit_trace.commands.config_show import config_lines
from autoskillit_trace.config import find_project_file

PREFIX = "AUTOSKILLIT_LINUX_TRACING__"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if find_project_file(tmp_path) is not None:
        pytest.skip("a .autoskillit/config.yaml above the temporary directory would leak in")
    path = tmp_path / "project" / "sub"
    path.mkdir(parents=True)
    return path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _user_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "autoskillit" / "config.yaml"


def config_show(cwd: Path, env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    argv = tracer("config", "show", *args)
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)


def test_each_value_names_its_source(project: Path, env: dict[str, str]) -> None:
    user = _write(_user_file(env), "linux_tracing:\n  max_sessions: 50\n  enabled: true\n")
    proj = _write(
        project.parent / ".autoskillit" / "config.yaml", "linux_tracing:\n  enabled: false\n"
    )
    env = {**env, f"{PREFIX}LOG_DIR": "/tmp/from-env"}
    proc = config_show(project, env, "--json", "--interval", "0.5")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    rows = {row["key"]: row for row in data["settings"]}
    expected = {
        "linux_tracing.enabled": (False, "project file", str(proj)),
        "linux_tracing.proc_interval": (0.5, "command line", "--interval"),
        "linux_tracing.log_dir": ("/tmp/from-env", "environment", f"{PREFIX}LOG_DIR"),
        "linux_tracing.max_sessions": (50, "user file", str(user)),
        "linux_tracing.agent_events": (False, "default", None),
        "linux_tracing.agent_format": ("auto", "default", None),
        "linux_tracing.redact_patterns": ([], "default", None),
        "linux_tracing.pushgateway_url": ("", "default", None),
        "linux_tracing.textfile_dir": ("", "default", None),
        "linux_tracing.labels": ({}, "default", None),
        "linux_tracing.html_report": (False, "default", None),
        "linux_tracing.job": ("", "default", None),
        "linux_tracing.regression_runs": (20, "default", None),
        "linux_tracing.regression_min_runs": (5, "default", None),
        "linux_tracing.regression_factor": (1.5, "default", None),
        "linux_tracing.regression_floor_seconds": (1.0, "default", None),
        "linux_tracing.regression_floor_rss_mb": (32.0, "default", None),
        "linux_tracing.regression_floor_cpu_seconds": (1.0, "default", None),
    }
    got = {k: (r["value"], r["source_kind"], r["source_where"]) for k, r in rows.items()}
    assert got == expected
    assert data["log_root"] == "/tmp/from-env"
    assert data["user_file"] == str(user) and data["user_file_exists"] is True
    assert data["project_file"] == str(proj)

    text = config_show(project, env, "--interval", "0.5", "--no-trace").stdout
    lines = text.splitlines()
    # key, value, (source), then what the setting is
    assert lines[0].split()[:5] == [
        "linux_tracing.enabled",
        "false",
        "(command",
        "line",
        "--no-trace)",
    ]
    assert lines[1].split()[:5] == [
        "linux_tracing.proc_interval",
        "0.5",
        "(command",
        "line",
        "--interval)",
    ]
    assert re.search(rf"  \(environment {PREFIX}LOG_DIR\) +where session folders go", lines[2])
    assert re.search(rf"  \(user file {re.escape(str(user))}\) +session folders kept$", lines[3])
    assert re.search(rf"^project file +{re.escape(str(proj))}$", text, re.M)


def test_a_urls_password_is_not_shown(project: Path, env: dict[str, str]) -> None:
    url = "http://ci:s3cret-pw@gateway.example:9091"
    env = {**env, f"{PREFIX}PUSHGATEWAY_URL": url}
    for args in ((), ("--json",)):
        proc = config_show(project, env, *args)
        assert proc.returncode == 0, proc.stderr
        assert "s3cret-pw" not in proc.stdout
        assert "http://ci:[REDACTED]@gateway.example:9091" in proc.stdout


def test_defaults_and_missing_files(project: Path, env: dict[str, str]) -> None:
    proc = config_show(project, env)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert all("  (default)  " in line for line in lines[:4])
    assert f"{_user_file(env)} (not present)" in proc.stdout
    assert "(none found)" in proc.stdout
    data = json.loads(config_show(project, env, "--json").stdout)
    assert data["log_root"] == str(Path(env["XDG_DATA_HOME"]) / "autoskillit" / "logs")


# Every kind of bad configuration: (where, content, expected message after "error: ").
BAD = [
    ("user", "linux_tracing:\n  enabled: a: b\n", "{path}: line 2: YAML does not parse: "),
    (
        "project",
        "linux_tracng:\n  enabled: true\n",
        "{path}: unknown section 'linux_tracng' (did you mean 'linux_tracing'?); "
        "known sections: linux_tracing",
    ),
    (
        "user",
        "linux_tracing:\n  max_session: 5\n",
        "{path}: unknown key 'linux_tracing.max_session' (did you mean 'max_sessions'?); "
        "known keys: enabled, proc_interval, log_dir, max_sessions",
    ),
    (
        "project",
        "linux_tracing:\n  enabled: 'yes'\n",
        "{path}: linux_tracing.enabled: expected true or false, got 'yes'",
    ),
    (
        "user",
        "linux_tracing:\n  proc_interval: 0\n",
        "{path}: linux_tracing.proc_interval: "
        "expected a number of seconds from 0.01 to 86400, got 0",
    ),
    (
        "env",
        "0",
        f"{PREFIX}MAX_SESSIONS: linux_tracing.max_sessions: "
        "expected a whole number of at least 1, got '0'",
    ),
]


@pytest.mark.parametrize(("where", "content", "expected"), BAD)
def test_bad_configuration_is_one_line_exit_2_as_in_run(
    project: Path, env: dict[str, str], where: str, content: str, expected: str
) -> None:
    if where == "env":
        env = {**env, f"{PREFIX}MAX_SESSIONS": content}
        path = None
    elif where == "user":
        path = _write(_user_file(env), content)
    else:
        path = _write(project / ".autoskillit" / "config.yaml", content)
    message = expected.format(path=path)
    shown = config_show(project, env)
    ran = subprocess.run(
        tracer("run", "--", "true"), capture_output=True, text=True, env=env, cwd=project
    )
    for proc, prefix in (
        (shown, "autoskillit-trace: error: "),
        (ran, "autoskillit-trace run: error: "),
    ):
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(prefix + message), proc.stderr
    assert shown.stderr.removeprefix("autoskillit-trace: error: ") == ran.stderr.removeprefix(
        "autoskillit-trace run: error: "
    )


def test_bad_option_value_is_one_line(project: Path, env: dict[str, str]) -> None:
    proc = config_show(project, env, "--interval", "soon")
    assert proc.returncode == 2
    assert proc.stderr == (
        "autoskillit-trace: error: --interval: linux_tracing.proc_interval: "
        "expected a number of seconds from 0.01 to 86400, got 'soon'\n"
    )


@pytest.mark.parametrize("value", ["0.00001", "1e-9", "0.0099", "86401"])
@pytest.mark.parametrize("where", ["option", "env", "project"])
def test_an_interval_out_of_range_is_refused_as_in_run(
    project: Path, env: dict[str, str], where: str, value: str
) -> None:
    """Below 0.01 s the wrapper would spin; above a day, its waits would overflow."""
    options: tuple[str, ...] = ()
    if where == "option":
        options, source, got = ("--interval", value), "--interval", repr(value)
    elif where == "env":
        env = {**env, f"{PREFIX}PROC_INTERVAL": value}
        source, got = f"{PREFIX}PROC_INTERVAL", repr(value)
    else:
        path = _write(
            project / ".autoskillit" / "config.yaml", f"linux_tracing:\n  proc_interval: {value}\n"
        )
        source, got = (
            str(path),
            value if value.isdigit() else repr(float(value)),
        )  # as YAML reads it
    expected = (
        f"{source}: linux_tracing.proc_interval: expected a number of seconds "
        f"from 0.01 to 86400, got {got}\n"
    )
    shown = config_show(project, env, *options)
    ran = subprocess.run(
        tracer("run", *options, "--", "true"),
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=30,  # the old wrapper spun below 0.01 s
    )
    assert (shown.returncode, shown.stdout, ran.returncode, ran.stdout) == (2, "", 2, "")
    assert shown.stderr == f"autoskillit-trace: error: {expected}"
    assert ran.stderr == f"autoskillit-trace run: error: {expected}"


@pytest.mark.parametrize("where", ["option", "env", "project"])
def test_an_unknown_agent_format_is_refused_as_in_run(
    project: Path, env: dict[str, str], where: str
) -> None:
    options: tuple[str, ...] = ()
    if where == "option":
        options, source = ("--agent-format", "codx"), "--agent-format"
    elif where == "env":
        env = {**env, f"{PREFIX}AGENT_FORMAT": "codx"}
        source = f"{PREFIX}AGENT_FORMAT"
    else:
        source = str(
            _write(
                project / ".autoskillit" / "config.yaml", "linux_tracing:\n  agent_format: codx\n"
            )
        )
    expected = (
        f"{source}: linux_tracing.agent_format: unknown stream format 'codx' "
        f"{KNOWN_FORMATS}; expected auto or the name of a stream format\n"
    )
    shown = config_show(project, env, *options)
    ran = subprocess.run(
        tracer("run", "--agent-events", *options, "--", "true"),
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=30,
    )
    assert (shown.returncode, shown.stdout, ran.returncode, ran.stdout) == (2, "", 2, "")
    assert shown.stderr == f"autoskillit-trace: error: {expected}"
    assert ran.stderr == f"autoskillit-trace run: error: {expected}"


def test_lines_on_data() -> None:
    help_text = "seconds between snapshots, and more words to cut"
    record = {
        "settings": [
            {"key": "a.b", "value": 1.5, "source": "default", "help": help_text},
            {"key": "a.c", "value": "x", "source": "user file /u.yaml", "help": "short"},
        ],
        "log_root": "/logs",
        "user_file": "/u.yaml",
        "user_file_exists": True,
        "project_file": None,
    }
    assert config_lines(record) == [
        f"a.b           1.5  (default)            {help_text}",
        'a.c           "x"  (user file /u.yaml)  short',
        "",
        "log root      /logs",
        "user file     /u.yaml",
        "project file  (none found)",
    ]
    narrow = config_lines(record, width=60)  # 20 columns left: the help cut to fit
    assert narrow[:2] == [
        "a.b           1.5  (default)            seconds between sna\u2026",
        'a.c           "x"  (user file /u.yaml)  short',
    ]
    assert max(map(len, narrow)) == 60
    assert config_lines(record, width=59)[:2] == [  # too little room: no help
        "a.b           1.5  (default)",
        'a.c           "x"  (user file /u.yaml)',
    ]


def test_a_long_source_pushes_only_its_own_help() -> None:
    path = "/home/someone/work/repository/.autoskillit/config.yaml"
    record = {
        "settings": [
            {"key": "a.b", "value": 1, "source": "default", "help": "one"},
            {"key": "a.c", "value": 2, "source": f"project file {path}", "help": "two"},
        ],
        "log_root": "/logs",
        "user_file": "/u.yaml",
        "user_file_exists": True,
        "project_file": path,
    }
    first, second = config_lines(record)[:2]
    assert first == "a.b           1  (default)" + " " * 21 + "one"  # the source column: 28
    assert second == f"a.c           2  (project file {path})  two"


def test_each_setting_is_explained(project: Path, env: dict[str, str]) -> None:
    """Piped: each row ends with its help, whole; on a terminal: cut to its width."""
    rows = json.loads(config_show(project, env, "--json").stdout)["settings"]
    piped = config_show(project, env)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert len(rows) > 10 and all(
        line.startswith(row["key"] + " ") and line.endswith("  " + row["help"])
        for row, line in zip(rows, lines, strict=False)
    )
    env = {k: v for k, v in env.items() if k != "COLUMNS"}
    term = Terminal(tracer("config", "show"), env, cwd=str(project), columns=100)
    try:
        assert term.wait() == 0
        shown = term.text().replace("\r\n", "\n").splitlines()
    finally:
        term.close()
    shown = shown[: len(rows)]
    assert shown != lines[: len(rows)] and max(map(len, shown)) <= 100
    cut = [line for line in shown if line.endswith("\u2026")]
    assert cut and all(len(line) == 100 for line in cut)
