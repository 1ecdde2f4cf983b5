"""Tests for autoskillit_trace.config: layering, provenance, validation messages, locations."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import pytest
import yaml
from helpers import KNOWN_FORMATS
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace import config
from autoskillit_trace.config import (
    KEYS,
    SCHEMA,
    ConfigError,
    Resolved,
    Settings,
    Source,
    default_log_root,
    describe,
    find_project_file,
    load,
    log_root,
    user_config_path,
)

REPO = Path(__file__).resolve().parents[1]
PREFIX = "AUTOSKILLIT_LINUX_TRACING__"
KNOWN_KEYS = (
    "known keys: enabled, proc_interval, log_dir, max_sessions, agent_events, agent_format, "
    "redact_patterns, pushgateway_url, textfile_dir, labels, html_report, job, regression_runs, "
    "regression_min_runs, regression_factor, regression_floor_seconds, regression_floor_rss_mb, "
    "regression_floor_cpu_seconds"
)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux XDG layout")


# --- helpers --------------------------------------------------------------------------


def make_env(root: Path) -> dict[str, str]:
    """An environment whose home and XDG dirs live under ``root``: never the real user's files."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "XDG_DATA_HOME": str(root / "xdg-data"),
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return make_env(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if find_project_file(tmp_path) is not None:
        pytest.skip("a .autoskillit/config.yaml above the temporary directory would leak in")
    path = tmp_path / "project"
    path.mkdir()
    return path


def user_file(env: Mapping[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "autoskillit" / "config.yaml"


def project_file(directory: Path) -> Path:
    return directory / ".autoskillit" / "config.yaml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(
    cwd: Path,
    env: Mapping[str, str],
    overrides: Mapping[str, tuple[str, object]] | None = None,
) -> str:
    with pytest.raises(ConfigError) as info:
        load(cwd, env, overrides or {})
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# --- schema and defaults --------------------------------------------------------------


def test_schema_matches_settings_class() -> None:
    assert list(Settings.__slots__) == [s.attr for s in SCHEMA]
    assert list(Settings.__annotations__) == [s.attr for s in SCHEMA]  # typed for mypy
    defaults = Settings()
    assert [getattr(defaults, s.attr) for s in SCHEMA] == [s.default for s in SCHEMA]
    with pytest.raises(TypeError, match="unknown settings: bogus"):
        Settings(bogus=1)
    assert KEYS == (
        "linux_tracing.enabled",
        "linux_tracing.proc_interval",
        "linux_tracing.log_dir",
        "linux_tracing.max_sessions",
        "linux_tracing.agent_events",
        "linux_tracing.agent_format",
        "linux_tracing.redact_patterns",
        "linux_tracing.pushgateway_url",
        "linux_tracing.textfile_dir",
        "linux_tracing.labels",
        "linux_tracing.html_report",
        "linux_tracing.job",
        "linux_tracing.regression_runs",
        "linux_tracing.regression_min_runs",
        "linux_tracing.regression_factor",
        "linux_tracing.regression_floor_seconds",
        "linux_tracing.regression_floor_rss_mb",
        "linux_tracing.regression_floor_cpu_seconds",
    )


def test_defaults_when_no_files(project: Path, env: dict[str, str]) -> None:
    resolved = load(project, env)
    assert resolved.settings == Settings()
    assert resolved.sources == {key: Source("default", None) for key in KEYS}
    assert resolved.user_file == str(user_file(env))
    assert resolved.project_file is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "# nothing here\n  # indented comment\n",
        "linux_tracing:\n",
        "linux_tracing:\n  # x: 1\n",
    ],
)
def test_empty_and_comment_only_files_mean_no_settings(
    project: Path, env: dict[str, str], text: str
) -> None:
    write(project_file(project), text)
    resolved = load(project, env)
    assert resolved.settings == Settings()
    assert resolved.project_file == str(project_file(project))


def test_byte_order_mark_is_accepted(project: Path, env: dict[str, str]) -> None:
    project_file(project).parent.mkdir()
    project_file(project).write_bytes(b"\xef\xbb\xbflinux_tracing:\n  max_sessions: 3\n")
    assert load(project, env).settings.max_sessions == 3


def test_yaml_12_exponent_floats(project: Path, env: dict[str, str]) -> None:
    write(project_file(project), "linux_tracing:\n  proc_interval: 1e-1\n")
    assert load(project, env).settings.proc_interval == pytest.approx(0.1)
    write(project_file(project), "linux_tracing:\n  proc_interval: 2.5e1\n")
    assert load(project, env).settings.proc_interval == 25.0


def test_int_is_accepted_for_float(project: Path, env: dict[str, str]) -> None:
    write(project_file(project), "linux_tracing:\n  proc_interval: 2\n")
    value = load(project, env).settings.proc_interval
    assert value == 2.0 and isinstance(value, float)


# --- layering and provenance ----------------------------------------------------------


def test_user_file_overrides_defaults(project: Path, env: dict[str, str]) -> None:
    path = write(user_file(env), "linux_tracing:\n  proc_interval: 2.5\n  log_dir: ~/traces\n")
    resolved = load(project, env)
    assert resolved.settings == Settings(proc_interval=2.5, log_dir="~/traces")
    assert resolved.sources["linux_tracing.proc_interval"] == Source("user file", str(path))
    assert str(resolved.sources["linux_tracing.proc_interval"]) == f"user file {path}"
    assert resolved.sources["linux_tracing.enabled"] == Source("default", None)


def test_each_layer_overrides_the_one_below(project: Path, env: dict[str, str]) -> None:
    user = write(
        user_file(env),
        "linux_tracing:\n  enabled: false\n  proc_interval: 1\n  log_dir: /u\n  max_sessions: 10\n",
    )
    proj = write(
        project_file(project),
        "linux_tracing:\n  proc_interval: 2\n  log_dir: /p\n  max_sessions: 20\n",
    )
    env |= {f"{PREFIX}LOG_DIR": "/e", f"{PREFIX}MAX_SESSIONS": "30"}
    overrides: dict[str, tuple[str, object]] = {"linux_tracing.max_sessions": ("--keep", "40")}

    resolved = load(project, env, overrides)

    assert resolved.settings == Settings(
        enabled=False, proc_interval=2.0, log_dir="/e", max_sessions=40
    )
    assert resolved.user_file == str(user)
    assert resolved.project_file == str(proj)
    assert resolved.sources == {
        "linux_tracing.enabled": Source("user file", str(user)),
        "linux_tracing.proc_interval": Source("project file", str(proj)),
        "linux_tracing.log_dir": Source("environment", f"{PREFIX}LOG_DIR"),
        "linux_tracing.max_sessions": Source("command line", "--keep"),
        "linux_tracing.agent_events": Source("default"),
        "linux_tracing.agent_format": Source("default"),
        "linux_tracing.redact_patterns": Source("default", None),
        "linux_tracing.pushgateway_url": Source("default"),
        "linux_tracing.textfile_dir": Source("default"),
        "linux_tracing.labels": Source("default"),
        "linux_tracing.html_report": Source("default"),
        "linux_tracing.job": Source("default"),
        "linux_tracing.regression_runs": Source("default"),
        "linux_tracing.regression_min_runs": Source("default"),
        "linux_tracing.regression_factor": Source("default"),
        "linux_tracing.regression_floor_seconds": Source("default"),
        "linux_tracing.regression_floor_rss_mb": Source("default"),
        "linux_tracing.regression_floor_cpu_seconds": Source("default"),
    }
    assert [str(resolved.sources[key]) for key in KEYS] == [
        f"user file {user}",
        f"project file {proj}",
        f"environment {PREFIX}LOG_DIR",
        "command line --keep",
        *["default"] * (len(KEYS) - 4),
    ]


def test_nearest_project_file_wins(project: Path, env: dict[str, str]) -> None:
    outer = write(project_file(project), "linux_tracing:\n  max_sessions: 1\n")
    inner = write(project_file(project / "a" / "b"), "linux_tracing:\n  max_sessions: 2\n")
    deep = project / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)

    assert find_project_file(deep) == str(inner)
    assert load(deep, env).settings.max_sessions == 2
    assert load(deep, env).sources["linux_tracing.max_sessions"] == Source(
        "project file", str(inner)
    )
    # Between the two files only the outer one is above.
    assert find_project_file(project / "a") == str(outer)
    assert load(project / "a", env).settings.max_sessions == 1


def test_project_dir_without_config_is_ignored(project: Path, env: dict[str, str]) -> None:
    (project / ".autoskillit").mkdir()
    assert find_project_file(project) is None


def test_missing_xdg_parent_means_no_user_file(project: Path, env: dict[str, str]) -> None:
    blocker = Path(env["XDG_CONFIG_HOME"])
    blocker.write_text("not a directory")
    assert load(project, env).settings == Settings()


def test_describe_rows(project: Path, env: dict[str, str]) -> None:
    env[f"{PREFIX}PROC_INTERVAL"] = "0.5"
    rows = describe(load(project, env))
    assert [row["key"] for row in rows] == list(KEYS)
    assert rows[0] == {
        "key": "linux_tracing.enabled",
        "value": True,
        "source": "default",
        "source_kind": "default",
        "source_where": None,
        "help": SCHEMA[0].help,
    }
    assert rows[1] == {
        "key": "linux_tracing.proc_interval",
        "value": 0.5,
        "source": f"environment {PREFIX}PROC_INTERVAL",
        "source_kind": "environment",
        "source_where": f"{PREFIX}PROC_INTERVAL",
        "help": "seconds between snapshots",
    }
    json.dumps(rows)  # `config show --json` must be able to print them


# --- file errors ----------------------------------------------------------------------

EXPECT_SECONDS = "expected a number of seconds from 0.01 to 86400"
EXPECT_BOOL = "expected true or false"
EXPECT_COUNT = "expected a whole number of at least 1"
EXPECT_PATH = "expected an absolute path or one starting with '~'"
EXPECT_SECTIONS = "expected a mapping of sections such as 'linux_tracing:'"

SETTINGS_MAPPING = "expected a mapping of settings"
STRUCTURE_ERRORS = [
    ("- linux_tracing\n", f"{{path}}: {EXPECT_SECTIONS}, got a list ['linux_tracing']"),
    ("just words\n", f"{{path}}: {EXPECT_SECTIONS}, got 'just words'"),
    ("linux_tracing: [1, 2]\n", f"{{path}}: linux_tracing: {SETTINGS_MAPPING}, got a list [1, 2]"),
    ("linux_tracing: 5\n", f"{{path}}: linux_tracing: {SETTINGS_MAPPING}, got 5"),
    (
        "linux_tracng:\n  enabled: true\n",
        "{path}: unknown section 'linux_tracng' (did you mean 'linux_tracing'?);"
        " known sections: linux_tracing",
    ),
    ("zzz: {}\n", "{path}: unknown section 'zzz'; known sections: linux_tracing"),
    ("5: {}\n", "{path}: unknown section 5; known sections: linux_tracing"),
    (
        "linux_tracing:\n  proc_intervl: 1\n",
        "{path}: unknown key 'linux_tracing.proc_intervl' (did you mean 'proc_interval'?); "
        + KNOWN_KEYS,
    ),
    (
        "linux_tracing:\n  colour: red\n",
        f"{{path}}: unknown key 'linux_tracing.colour'; {KNOWN_KEYS}",
    ),
]
# (line under "linux_tracing:", expected text after "<path>: linux_tracing.<key>: ")
VALUE_ERRORS = [
    # wrong types
    ("proc_interval: fast", f"{EXPECT_SECONDS}, got 'fast'"),
    ("proc_interval: '5'", f"{EXPECT_SECONDS}, got '5'"),
    ("proc_interval: true", f"{EXPECT_SECONDS}, got true"),
    ("enabled: 'yes'", f"{EXPECT_BOOL}, got 'yes'"),
    ("enabled: 1", f"{EXPECT_BOOL}, got 1"),
    ("enabled:", f"{EXPECT_BOOL}, got null"),
    ("max_sessions: 2.5", f"{EXPECT_COUNT}, got 2.5"),
    ("max_sessions: false", f"{EXPECT_COUNT}, got false"),
    ("log_dir: 5", f"{EXPECT_PATH}, got 5"),
    ("log_dir: [a]", f"{EXPECT_PATH}, got a list ['a']"),
    ("log_dir: {}", f"{EXPECT_PATH}, got an empty mapping"),
    (
        "labels: {a: [1]}",
        "expected a mapping of Prometheus label names to values, got a mapping {{'a': [1]}}",
    ),
    # out of range
    ("proc_interval: 0", f"{EXPECT_SECONDS}, got 0"),
    ("proc_interval: -1.5", f"{EXPECT_SECONDS}, got -1.5"),
    ("proc_interval: .nan", f"{EXPECT_SECONDS}, got nan"),
    ("proc_interval: .inf", f"{EXPECT_SECONDS}, got inf"),
    ("max_sessions: 0", f"{EXPECT_COUNT}, got 0"),
    ("log_dir: logs", f"{EXPECT_PATH}, got 'logs'"),
]
FILE_ERRORS = STRUCTURE_ERRORS + [
    (f"linux_tracing:\n  {line}\n", f"{{path}}: linux_tracing.{line.split(':')[0]}: {tail}")
    for line, tail in VALUE_ERRORS
]


@pytest.mark.parametrize("which", ["user", "project"])
@pytest.mark.parametrize(("text", "expected"), FILE_ERRORS)
def test_file_errors(
    project: Path, env: dict[str, str], which: str, text: str, expected: str
) -> None:
    path = user_file(env) if which == "user" else project_file(project)
    write(path, text)
    message = load_error(project, env)
    assert message == expected.format(path=path)
    assert message.startswith(f"{path}: ")
    assert str(ConfigError(message)) == message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("linux_tracing:\n  enabled: true\n  proc_interval: 5\n bad\n", 4),
        ("linux_tracing:\n  enabled: a: b\n", 2),
        ("linux_tracing:\n  log_dir: [unclosed\n", 3),
        ("linux_tracing:\n\t enabled: true\n", 2),
        ("a: *missing\n", 1),
        ("--- 1\n--- 2\n", 2),
    ],
)
def test_yaml_syntax_error_names_file_and_line(
    project: Path, env: dict[str, str], text: str, line: int
) -> None:
    path = write(project_file(project), text)
    message = load_error(project, env)
    prefix = f"{path}: line {line}: YAML does not parse: "
    assert message.startswith(prefix)
    assert len(message) > len(prefix)


def test_impossible_yaml_value_is_a_config_error(project: Path, env: dict[str, str]) -> None:
    path = write(project_file(project), "linux_tracing:\n  log_dir: 2020-13-45\n")
    assert load_error(project, env).startswith(f"{path}: YAML does not parse: ")


def test_config_path_is_a_directory(project: Path, env: dict[str, str]) -> None:
    path = project_file(project)
    path.mkdir(parents=True)
    assert load_error(project, env) == f"{path}: cannot read: Is a directory"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(project: Path, env: dict[str, str]) -> None:
    path = write(user_file(env), "linux_tracing: {}\n")
    path.chmod(0)
    try:
        assert load_error(project, env) == f"{path}: cannot read: Permission denied"
    finally:
        path.chmod(0o600)


def test_file_not_utf8(project: Path, env: dict[str, str]) -> None:
    path = project_file(project)
    path.parent.mkdir()
    path.write_bytes(b"linux_tracing:\n  log_dir: /tmp/caf\xe9\n")
    assert (
        load_error(project, env) == f"{path}: line 2: not UTF-8 text (byte 0xe9); save it as UTF-8"
    )


def test_error_message_stays_one_line_with_newlines_in_values(
    project: Path, env: dict[str, str]
) -> None:
    path = write(project_file(project), 'linux_tracing:\n  log_dir: "a\\nb"\n')
    assert load_error(project, env) == (
        f"{path}: linux_tracing.log_dir: {EXPECT_PATH}, got 'a\\nb'"
    )


# --- environment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True),
        ("false", False), ("False", False), ("0", False), ("no", False), ("OFF", False),
    ],
)  # fmt: skip
def test_env_bools(project: Path, env: dict[str, str], raw: str, value: bool) -> None:
    env[f"{PREFIX}ENABLED"] = raw
    resolved = load(project, env)
    assert resolved.settings.enabled is value
    assert resolved.sources["linux_tracing.enabled"] == Source("environment", f"{PREFIX}ENABLED")


@pytest.mark.parametrize(("raw", "value"), [("7", 7), ("0x10", 16), ("1_000", 1000), (" 12 ", 12)])
def test_env_ints(project: Path, env: dict[str, str], raw: str, value: int) -> None:
    env[f"{PREFIX}MAX_SESSIONS"] = raw
    assert load(project, env).settings.max_sessions == value


@pytest.mark.parametrize(("raw", "value"), [("0.5", 0.5), ("2", 2.0), ("1e-1", 0.1), ("3.", 3.0)])
def test_env_floats(project: Path, env: dict[str, str], raw: str, value: float) -> None:
    env[f"{PREFIX}PROC_INTERVAL"] = raw
    result = load(project, env).settings.proc_interval
    assert result == pytest.approx(value) and isinstance(result, float)


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("ENABLED", "maybe", "expected true or false (or yes/no, on/off, 1/0), got 'maybe'"),
        ("ENABLED", "", "expected true or false (or yes/no, on/off, 1/0), got ''"),
        ("PROC_INTERVAL", "", f"{EXPECT_SECONDS}, got ''"),
        ("PROC_INTERVAL", "fast", f"{EXPECT_SECONDS}, got 'fast'"),
        ("PROC_INTERVAL", "0", f"{EXPECT_SECONDS}, got '0'"),
        ("PROC_INTERVAL", "-2", f"{EXPECT_SECONDS}, got '-2'"),
        ("PROC_INTERVAL", "nan", f"{EXPECT_SECONDS}, got 'nan'"),
        ("PROC_INTERVAL", "inf", f"{EXPECT_SECONDS}, got 'inf'"),
        ("PROC_INTERVAL", "true", f"{EXPECT_SECONDS}, got 'true'"),
        ("MAX_SESSIONS", "", f"{EXPECT_COUNT}, got ''"),
        ("MAX_SESSIONS", "1.5", f"{EXPECT_COUNT}, got '1.5'"),
        ("MAX_SESSIONS", "0", f"{EXPECT_COUNT}, got '0'"),
        ("MAX_SESSIONS", "ten", f"{EXPECT_COUNT}, got 'ten'"),
    ],
)
def test_env_bad_values(
    project: Path, env: dict[str, str], key: str, raw: str, expected: str
) -> None:
    name = f"{PREFIX}{key}"
    env[name] = raw
    assert load_error(project, env) == f"{name}: linux_tracing.{key.lower()}: {expected}"


def test_env_empty_log_dir_means_default(project: Path, env: dict[str, str]) -> None:
    write(project_file(project), "linux_tracing:\n  log_dir: /from/file\n")
    env[f"{PREFIX}LOG_DIR"] = ""
    resolved = load(project, env)
    assert resolved.settings.log_dir == ""
    assert log_root(resolved.settings, env) == default_log_root(env)


KNOWN_VARIABLES = "known variables: " + ", ".join(
    f"{PREFIX}{key}"
    for key in (
        "ENABLED",
        "PROC_INTERVAL",
        "LOG_DIR",
        "MAX_SESSIONS",
        "AGENT_EVENTS",
        "AGENT_FORMAT",
        "REDACT_PATTERNS",
        "PUSHGATEWAY_URL",
        "TEXTFILE_DIR",
        "LABELS",
        "HTML_REPORT",
        "JOB",
        "REGRESSION_RUNS",
        "REGRESSION_MIN_RUNS",
        "REGRESSION_FACTOR",
        "REGRESSION_FLOOR_SECONDS",
        "REGRESSION_FLOOR_RSS_MB",
        "REGRESSION_FLOOR_CPU_SECONDS",
    )
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            f"{PREFIX}PROC_INTERVL",
            f"{PREFIX}PROC_INTERVL: unknown key 'linux_tracing.proc_intervl'"
            f" (did you mean '{PREFIX}PROC_INTERVAL'?); {KNOWN_VARIABLES}",
        ),
        (
            f"{PREFIX}proc_interval",
            f"{PREFIX}proc_interval: unknown key 'linux_tracing.proc_interval'"
            f" (did you mean '{PREFIX}PROC_INTERVAL'?); {KNOWN_VARIABLES}",
        ),
        (
            f"{PREFIX}COLOUR",
            f"{PREFIX}COLOUR: unknown key 'linux_tracing.colour'; {KNOWN_VARIABLES}",
        ),
    ],
)
def test_env_unknown_variable(project: Path, env: dict[str, str], name: str, expected: str) -> None:
    env[name] = "1"
    assert load_error(project, env) == expected


def test_unrelated_env_is_ignored(project: Path, env: dict[str, str]) -> None:
    env |= {"AUTOSKILLIT_OTHER": "x", "AUTOSKILLIT_LINUX_TRACING": "x", "PATH": "/bin"}
    assert load(project, env).settings == Settings()


# --- command line ---------------------------------------------------------------------


def test_command_line_string_and_typed_values(project: Path, env: dict[str, str]) -> None:
    env[f"{PREFIX}ENABLED"] = "yes"
    resolved = load(
        project,
        env,
        {
            "linux_tracing.enabled": ("--no-trace", False),
            "linux_tracing.proc_interval": ("--interval", "0.25"),
            "linux_tracing.max_sessions": ("--keep", 7),
        },
    )
    assert resolved.settings == Settings(enabled=False, proc_interval=0.25, max_sessions=7)
    assert resolved.sources["linux_tracing.enabled"] == Source("command line", "--no-trace")
    assert str(resolved.sources["linux_tracing.proc_interval"]) == "command line --interval"


@pytest.mark.parametrize(
    ("key", "option", "raw", "expected"),
    [
        ("proc_interval", "--interval", "fast", f"{EXPECT_SECONDS}, got 'fast'"),
        ("proc_interval", "--interval", 0, f"{EXPECT_SECONDS}, got 0"),
        ("proc_interval", "--interval", True, f"{EXPECT_SECONDS}, got true"),
        ("enabled", "--no-trace", 0, f"{EXPECT_BOOL}, got 0"),
        ("max_sessions", "--keep", "-3", f"{EXPECT_COUNT}, got '-3'"),
        ("log_dir", "--log-dir", 5, f"{EXPECT_PATH}, got 5"),
    ],
)
def test_command_line_bad_values(
    project: Path, env: dict[str, str], key: str, option: str, raw: object, expected: str
) -> None:
    message = load_error(project, env, {f"linux_tracing.{key}": (option, raw)})
    assert message == f"{option}: linux_tracing.{key}: {expected}"


def test_command_line_unknown_key(project: Path, env: dict[str, str]) -> None:
    message = load_error(project, env, {"linux_tracing.proc_intervl": ("--interval", "1")})
    assert message == (
        "--interval: unknown key 'linux_tracing.proc_intervl'"
        " (did you mean 'linux_tracing.proc_interval'?); known keys: " + ", ".join(KEYS)
    )


# --- agent_format ---------------------------------------------------------------------

UNKNOWN_FORMAT = (
    "linux_tracing.agent_format: unknown stream format {!r} " + KNOWN_FORMATS + "; "
    "expected auto or the name of a stream format"
)


def test_agent_format_names_a_registered_format(project: Path, env: dict[str, str]) -> None:
    assert load(project, env).settings.agent_format == "auto"
    path = write(project_file(project), "linux_tracing:\n  agent_format: claude\n")
    resolved = load(project, env)
    assert resolved.settings.agent_format == "claude"
    assert resolved.sources["linux_tracing.agent_format"] == Source("project file", str(path))
    env[f"{PREFIX}AGENT_FORMAT"] = "auto"
    assert load(project, env).settings.agent_format == "auto"


@pytest.mark.parametrize("layer", ["file", "environment", "command line"])
@pytest.mark.parametrize("raw", ["codx", "Claude", ""])
def test_an_unknown_agent_format_is_refused(
    project: Path, env: dict[str, str], layer: str, raw: str
) -> None:
    overrides: dict[str, tuple[str, object]] = {}
    if layer == "file":
        where = write(project_file(project), f"linux_tracing:\n  agent_format: '{raw}'\n")
    elif layer == "environment":
        where = f"{PREFIX}AGENT_FORMAT"
        env[where] = raw
    else:
        where = "--agent-format"
        overrides["linux_tracing.agent_format"] = (where, raw)
    assert load_error(project, env, overrides) == f"{where}: {UNKNOWN_FORMAT.format(raw)}"


def test_an_agent_format_of_another_type_is_refused(project: Path, env: dict[str, str]) -> None:
    path = write(project_file(project), "linux_tracing:\n  agent_format: 3\n")
    assert load_error(project, env) == (
        f"{path}: linux_tracing.agent_format: expected auto or the name of a stream format, got 3"
    )


# --- log_dir and locations ------------------------------------------------------------


@pytest.mark.parametrize("layer", ["environment", "command line"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("logs", "{cwd}/logs"), ("../out/x", "{parent}/out/x"), ("./a/../b", "{cwd}/b")],
)
def test_relative_log_dir_resolves_against_cwd(
    project: Path, env: dict[str, str], layer: str, raw: str, expected: str
) -> None:
    overrides: dict[str, tuple[str, object]] = {}
    if layer == "environment":
        env[f"{PREFIX}LOG_DIR"] = raw
    else:
        overrides["linux_tracing.log_dir"] = ("--log-dir", raw)
    log_dir = load(project, env, overrides).settings.log_dir
    assert log_dir == expected.format(cwd=project, parent=project.parent)
    assert os.path.isabs(log_dir)


@pytest.mark.parametrize("raw", ["~/traces", "/abs/traces", ""])
def test_anchored_log_dir_is_kept(project: Path, env: dict[str, str], raw: str) -> None:
    env[f"{PREFIX}LOG_DIR"] = raw
    assert load(project, env).settings.log_dir == raw


def test_log_root(env: dict[str, str]) -> None:
    home = env["HOME"]
    assert log_root(Settings(log_dir="~/traces"), env) == f"{home}/traces"
    assert log_root(Settings(log_dir="~"), env) == home
    assert log_root(Settings(log_dir="/abs/x"), env) == "/abs/x"
    assert log_root(Settings(log_dir="/abs//x/./y/"), env) == "/abs/x/y"
    assert log_root(Settings(log_dir="~/traces"), {**env, "HOME": f"{home}/"}) == f"{home}/traces"
    assert log_root(Settings(), env) == default_log_root(env)


@given(
    st.sampled_from(["", "/", "//", "///"]),
    st.lists(st.sampled_from(["", ".", "..", "a", "b.c", "~"]), max_size=6),
)
def test_paths_are_written_as_pathlib_writes_them(root: str, parts: list[str]) -> None:
    path = root + "/".join(parts)
    assert config._tidy(path) == str(PurePosixPath(path))


@linux_only
def test_linux_default_locations(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert user_config_path(env) == f"{tmp_path}/.config/autoskillit/config.yaml"
    assert default_log_root(env) == f"{tmp_path}/.local/share/autoskillit/logs"


XDG_VALUES = [None, "", "relative/dir", "ABSOLUTE", "ABSOLUTE/trailing/"]
HOME_VALUES = ["ABSOLUTE_HOME", None, "relative-home"]


def _set_environ(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str | None, tmp_path: Path
) -> None:
    if value is None:
        monkeypatch.delenv(name, raising=False)
    else:
        value = value.replace("ABSOLUTE_HOME", str(tmp_path / "home"))
        monkeypatch.setenv(name, value.replace("ABSOLUTE", str(tmp_path / "xdg")))


@linux_only
@pytest.mark.parametrize("home", HOME_VALUES)
@pytest.mark.parametrize("xdg", XDG_VALUES)
def test_user_config_path_matches_platformdirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None, home: str | None
) -> None:
    import platformdirs

    _set_environ(monkeypatch, "HOME", home, tmp_path)
    _set_environ(monkeypatch, "XDG_CONFIG_HOME", xdg, tmp_path)
    expected = platformdirs.user_config_path("autoskillit") / "config.yaml"
    assert user_config_path(dict(os.environ)) == str(expected)


@linux_only
@pytest.mark.parametrize("home", HOME_VALUES)
@pytest.mark.parametrize("xdg", XDG_VALUES)
def test_default_log_root_matches_platformdirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None, home: str | None
) -> None:
    import platformdirs

    _set_environ(monkeypatch, "HOME", home, tmp_path)
    _set_environ(monkeypatch, "XDG_DATA_HOME", xdg, tmp_path)
    expected = platformdirs.user_data_path("autoskillit") / "logs"
    assert default_log_root(dict(os.environ)) == str(expected)


# --- start-up cost --------------------------------------------------------------------

PROBE = """
import json, sys
from pathlib import Path
import autoskillit_trace.config as c
cwd, home = sys.argv[1], sys.argv[2]
c.load(Path(cwd), {"HOME": home, "XDG_CONFIG_HOME": home + "/.config"})
print(json.dumps({m: m in sys.modules for m in ("yaml", "platformdirs", "difflib")}))
"""


def _probe(cwd: Path, home: Path) -> dict[str, bool]:
    environ = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(cwd), str(home)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, bool] = json.loads(out)
    return result


@linux_only
def test_no_yaml_import_without_config_files(project: Path, env: dict[str, str]) -> None:
    assert _probe(project, Path(env["HOME"])) == {
        "yaml": False,
        "platformdirs": False,
        "difflib": False,
    }


@linux_only
def test_yaml_imported_only_when_a_file_exists(project: Path, env: dict[str, str]) -> None:
    write(project_file(project), "linux_tracing:\n  enabled: true\n")
    assert _probe(project, Path(env["HOME"]))["yaml"] is True


# --- property tests -------------------------------------------------------------------

NAMES = st.sampled_from(
    ["linux_tracing", "linux_tracng", "enabled", "proc_interval", "log_dir", "max_sessions"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["~/x", "/abs", "rel", "yes", "1e3", ""])
)
KEYS_ANY = NAMES | st.text(max_size=8) | st.integers() | st.booleans() | st.none()
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(KEYS_ANY, children, max_size=4)
    ),
    max_leaves=16,
)
# Mostly the real section and keys, so the value checks get exercised too.
SETTING_NAMES = st.sampled_from([s.key for s in SCHEMA] + ["proc_intervl"])
NEAR_VALID = st.dictionaries(
    st.just("linux_tracing") | NAMES,
    st.none() | st.dictionaries(SETTING_NAMES, SCALARS | DOCUMENTS, max_size=5),
    max_size=2,
)


def check_outcome(cwd: Path, env: Mapping[str, str]) -> None:
    """Loading either succeeds with in-range values or raises a one-line ConfigError."""
    try:
        resolved = load(cwd, env)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(resolved, Resolved)
    s = resolved.settings
    assert isinstance(s.enabled, bool)
    assert isinstance(s.proc_interval, float) and math.isfinite(s.proc_interval)
    assert s.proc_interval > 0
    assert isinstance(s.max_sessions, int) and s.max_sessions >= 1
    assert s.log_dir == "" or s.log_dir.startswith("~") or os.path.isabs(s.log_dir)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("fuzz")
    cwd = root / "project"
    cwd.mkdir()
    return cwd, make_env(root)


@settings(max_examples=200, deadline=None)
@given(document=DOCUMENTS | NEAR_VALID)
def test_any_yaml_document_loads_or_raises_config_error(
    fuzz_dir: tuple[Path, dict[str, str]], document: object
) -> None:
    cwd, env = fuzz_dir
    write(project_file(cwd), yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    check_outcome(cwd, env)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8")))
def test_any_file_bytes_load_or_raise_config_error(
    fuzz_dir: tuple[Path, dict[str, str]], data: bytes
) -> None:
    cwd, env = fuzz_dir
    path = project_file(cwd)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    check_outcome(cwd, env)


@settings(max_examples=100, deadline=None)
@given(values=st.dictionaries(st.sampled_from(KEYS), st.text(max_size=12), max_size=4))
def test_any_env_values_load_or_raise_config_error(
    fuzz_dir: tuple[Path, dict[str, str]], values: dict[str, str]
) -> None:
    cwd, env = fuzz_dir
    project_file(cwd).unlink(missing_ok=True)
    extra = {f"{PREFIX}{key.split('.')[1].upper()}": raw for key, raw in values.items()}
    check_outcome(cwd, {**env, **extra})


def test_module_exposes_source_kinds() -> None:
    assert (config.DEFAULT, config.USER_FILE, config.PROJECT_FILE) == (
        "default",
        "user file",
        "project file",
    )
    assert (config.ENVIRONMENT, config.COMMAND_LINE) == ("environment", "command line")
    assert str(Source("default", None)) == "default"


# --- export settings ---------------------------------------------------------------------


def test_export_settings_from_file_and_environment(project: Path, env: dict[str, str]) -> None:
    write(
        project_file(project),
        "linux_tracing:\n"
        "  pushgateway_url: http://gw:9091\n"
        "  textfile_dir: /var/lib/node-exporter\n"
        "  labels: {team: infra, shard: 3}\n",
    )
    settings = load(project, env).settings
    assert settings.pushgateway_url == "http://gw:9091"
    assert settings.textfile_dir == "/var/lib/node-exporter"
    assert settings.labels == (("team", "infra"), ("shard", "3"))
    env[f"{PREFIX}LABELS"] = "job=build, runner=r-1"
    assert load(project, env).settings.labels == (("job", "build"), ("runner", "r-1"))
    env[f"{PREFIX}LABELS"] = '{"job": "x"}'
    assert load(project, env).settings.labels == (("job", "x"),)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  labels: {'a-b': 1}\n", "invalid label name 'a-b': expected [a-zA-Z_][a-zA-Z0-9_]*"),
        ("  labels: {__name__: x}\n", "reserved by Prometheus"),
        ("  labels: {host: x}\n", "'host' is set by autoskillit-trace itself"),
        ("  labels: [job]\n", "'job' is not name=value"),
        ("  labels: {a: [1]}\n", "expected a mapping of Prometheus label names to values"),
        ("  pushgateway_url: gw:9091\n", "expected an http:// or https:// URL with a host"),
        ("  pushgateway_url: 'http://[::1'\n", "got 'http://[::1'"),
        ("  pushgateway_url: 'http://a b'\n", "got 'http://a b'"),
        ("  pushgateway_url: 'http://gw:99999'\n", "(a port, if any, of 1 to 65535)"),
        ("  pushgateway_url: 'http://:9091'\n", "got 'http://:9091'"),
        ("  textfile_dir: relative/dir\n", "expected an absolute path"),
    ],
)
def test_export_setting_errors(
    project: Path, env: dict[str, str], body: str, expected: str
) -> None:
    write(project_file(project), "linux_tracing:\n" + body)
    message = load_error(project, env)
    assert expected in message and str(project_file(project)) in message
