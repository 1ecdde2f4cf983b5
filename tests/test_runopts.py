"""run's own option parser: the table, the '--' rule, one-line errors."""

from __future__ import annotations

import pytest

from autoskillit_trace.runopts import HelpRequested, UsageError, parse_run_args


def test_options_then_command() -> None:
    args = parse_run_args(
        ["--interval", "0.5", "--log-dir=/tmp/x", "-q", "--", "make", "-j", "--", "x"], {}
    )
    assert args.argv == ["make", "-j", "--", "x"]  # only the first '--' is ours
    assert args.quiet is True
    assert args.overrides == {
        "linux_tracing.proc_interval": ("--interval", "0.5"),
        "linux_tracing.log_dir": ("--log-dir", "/tmp/x"),
    }


def test_no_trace_overrides_enabled() -> None:
    args = parse_run_args(["--no-trace", "--", "true"], {})
    assert args.overrides == {"linux_tracing.enabled": ("--no-trace", False)}


def test_session_id_from_option_wins_over_environment() -> None:
    assert parse_run_args(["--session-id", "a1", "--", "true"], {}).session_id == "a1"
    env = {"AUTOSKILLIT_SESSION_ID": "from-env"}
    assert parse_run_args(["--", "true"], env).session_id == "from-env"
    assert parse_run_args(["--session-id", "opt", "--", "true"], env).session_id == "opt"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ls", "-la"], "missing '--' before the command"),
        ([], "no command given"),
        (["--interval", "1"], "no command given"),
        (["--interval"], "option --interval needs a value (SECONDS)"),
        (["-q", "--log-dir"], "option --log-dir needs a value (PATH)"),
        (["--log-dir", "", "--", "true"], "option --log-dir: the value is empty; expected PATH"),
        (["--kill-grace", "1e10", "--", "true"], "'1e10' is too long; expected at most 365d"),
        (["--"], "no command given after '--'"),
        (["--bogus", "--", "true"], "no such option: '--bogus'"),
        (["--interval", "--", "true"], "option --interval needs a value (SECONDS)"),
        (["--quiet=yes", "--", "true"], "option --quiet takes no value"),
        (["--log-format", "xml", "--", "true"], "'xml' is not one of auto, console, json"),
        (["--session-id", "a/b", "--", "true"], "it contains '/'"),
        (["--session-id", "../x", "--", "true"], "must start with a letter or a digit"),
        (["--session-id", "a..b", "--", "true"], "it contains '..'"),
        (["--session-id", "x" * 500, "--", "true"], "500 characters long"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_run_args(args, {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_session_id_in_environment_names_the_variable() -> None:
    with pytest.raises(UsageError, match="AUTOSKILLIT_SESSION_ID: invalid session id"):
        parse_run_args(["--", "true"], {"AUTOSKILLIT_SESSION_ID": "has space"})


@pytest.mark.parametrize("args", [["--help"], ["-h", "--", "x"], ["--interval", "1", "-h"]])
def test_help_before_the_separator_asks_for_help(args: list[str]) -> None:
    with pytest.raises(HelpRequested):
        parse_run_args(args, {})


def test_help_after_the_separator_belongs_to_the_command() -> None:
    assert parse_run_args(["--", "ls", "--help"], {}).argv == ["ls", "--help"]


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["ls", "-la"], "autoskillit-trace run -- ls -la"),
        (["--log-dir", "/x", "ls"], "autoskillit-trace run --log-dir /x -- ls"),
        (["--interval=2", "-q", "make", "it"], "autoskillit-trace run --interval=2 -q -- make it"),
    ],
)
def test_missing_separator_suggests_the_fixed_command(args: list[str], suggestion: str) -> None:
    with pytest.raises(UsageError, match="missing '--'") as caught:
        parse_run_args(args, {})
    assert f"(did you mean: {suggestion})" in str(caught.value)


def test_unknown_option_before_the_command_is_named() -> None:
    with pytest.raises(UsageError, match="no such option: '--bogus'"):
        parse_run_args(["-q", "--bogus", "x"], {})
