"""Secrets never reach the log store; the child still gets its real arguments."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import clean_env, run_traced, tracer, workload
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.config import ConfigError, load
from autoskillit_trace.redact import MASK, Redactor, might_hold_secret
from autoskillit_trace.session import command_line, shell_quote

# (what, the arguments, the secret text that must not be recorded)
PLANTED: list[tuple[str, list[str], str]] = [
    ("--token X", ["--token", "tok-alpha-1111"], "tok-alpha-1111"),
    ("--token=X", ["--token=tok-beta-2222"], "tok-beta-2222"),
    ("--password X", ["--password", "hunter2-pw"], "hunter2-pw"),
    ("--password=X", ["--password=correct-horse"], "correct-horse"),
    ("--api-key X", ["--api-key", "apikey-gamma-33"], "apikey-gamma-33"),
    ("--api-key=X", ["--api-key=apikey-delta-44"], "apikey-delta-44"),
    ("--client-secret X", ["--client-secret", "cs-epsilon-55"], "cs-epsilon-55"),
    ("-p style --auth-token", ["--auth-token", "at-zeta-66"], "at-zeta-66"),
    ("NAME_TOKEN=", ["GITHUB_TOKEN=ghtok-eta-77"], "ghtok-eta-77"),
    ("NAME_SECRET=", ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI-theta"], "wJalrXUtnFEMI-theta"),
    ("NAME_PASSWORD=", ["DB_PASSWORD=pg-iota-88"], "pg-iota-88"),
    ("NAME_KEY=", ["STRIPE_KEY=stripe-kappa-99"], "stripe-kappa-99"),
    ("lower name_key=", ["api_key=lower-lambda-10"], "lower-lambda-10"),
    ("URL user:pass@", ["https://alice:url-pass-mu@example.com/repo.git"], "url-pass-mu"),
    ("URL in text", ["fetch from ftp://bob:nu-ftp-pass@host/x now"], "nu-ftp-pass"),
    ("Authorization: Bearer", ["Authorization: Bearer xi-bearer-1234"], "xi-bearer-1234"),
    ("Authorization: Basic", ["Authorization: Basic b21pY3Jvbjpw"], "b21pY3Jvbjpw"),
    ("Bearer X (one arg)", ["Bearer pi-bearer-5678"], "pi-bearer-5678"),
    ("Bearer X (two args)", ["Bearer", "rho-bearer-9012"], "rho-bearer-9012"),
    ("X-Api-Key header", ["X-Api-Key: sigma-header-34"], "sigma-header-34"),
    ("sk-", ["sk-abcdefghijklmnopqrstuvwxyz012345"], "abcdefghijklmnopqrstuvwxyz012345"),
    ("sk-ant-", ["sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-123"], "AbCdEfGhIjKlMnOpQrStUv"),
    ("ghp_", ["ghp_0123456789abcdefghijABCDEFGHIJ012345"], "0123456789abcdefghijABCDEFGHIJ"),
    ("github_pat_", ["github_pat_11AAAAAAA0123456789_abcdefghijklmnop"], "11AAAAAAA0123456789"),
    ("AKIA", ["AKIAIOSFODNN7EXAMPLE"], "IOSFODNN7EXAMPLE"),
    ("xoxb-", ["xoxb-123456789012-abcdefghijkl"], "123456789012-abcdefghijkl"),
    ("xoxp-", ["xoxp-998877665544-zyxwvutsrq"], "998877665544-zyxwvutsrq"),
    (
        "PEM private key",
        ["-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAupsilon\n-----END RSA PRIVATE KEY-----"],
        "MIIEpQIBAAKCAQEAupsilon",
    ),
    ("inside sh -c", ["sh", "-c", "API_KEY=phi-shell-42 make deploy"], "phi-shell-42"),
    ("quoted in sh -c", ["sh", "-c", 'export MY_SECRET="chi quoted 43"'], "chi quoted 43"),
    ("option in sh -c", ["sh", "-c", "tool --password psi-shell-44 run"], "psi-shell-44"),
]


@pytest.mark.parametrize(("what", "args", "secret"), PLANTED, ids=[p[0] for p in PLANTED])
def test_each_kind_is_redacted(what: str, args: list[str], secret: str) -> None:
    recorded = command_line(["tool", *args])
    assert secret not in recorded
    assert MASK in recorded
    assert recorded.startswith("tool ")


@pytest.mark.parametrize(
    "args",
    [
        ["git", "log", "--author=me", "--oneline"],
        ["env", "PATH=/usr/bin", "HOME=/root", "make", "test"],
        ["curl", "https://example.com/path?q=1"],
        ["pytest", "-k", "test_password_reset", "--maxfail=1"],
        ["ls", "-la", "/etc/ssh"],
        ["psql", "--no-password", "-h", "db", "mydb"],
    ],
)
def test_ordinary_arguments_are_kept(args: list[str]) -> None:
    assert Redactor().argv(args) == args


def test_option_names_and_surroundings_are_kept() -> None:
    recorded = Redactor().argv(["deploy", "--token", "abc123", "--env", "prod", "--token=xyz"])
    assert recorded == ["deploy", "--token", MASK, "--env", "prod", f"--token={MASK}"]
    assert Redactor().text("https://al:pw@h/x") == f"https://al:{MASK}@h/x"


def test_user_patterns_whole_match_or_groups() -> None:
    redactor = Redactor([r"internal-[0-9]{4}", r"ticket=(\w+)&sig=(\w+)"])
    assert redactor.text("use internal-1234 now") == f"use {MASK} now"
    assert redactor.text("ticket=abc&sig=def") == f"ticket={MASK}&sig={MASK}"


def test_redaction_is_idempotent() -> None:
    redactor = Redactor()
    for _, args, _ in PLANTED:
        once = redactor.argv(args)
        assert redactor.argv(once) == once


# -- configuration ---------------------------------------------------------------


def _project(tmp_path: Path, text: str) -> Path:
    project = tmp_path / "project"
    (project / ".autoskillit").mkdir(parents=True)
    (project / ".autoskillit" / "config.yaml").write_text(text)
    return project


def test_patterns_from_the_config_file(tmp_path: Path) -> None:
    project = _project(tmp_path, "linux_tracing:\n  redact_patterns: ['corp-[0-9]+']\n")
    settings = load(project, clean_env(tmp_path)).settings
    assert settings.redact_patterns == ("corp-[0-9]+",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["a+", "b("]', ("a+", "b(")),
        ("corp-[0-9]+", ("corp-[0-9]+",)),
        ("", ()),
    ],
)
def test_patterns_from_the_environment(tmp_path: Path, raw: str, expected: object) -> None:
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__REDACT_PATTERNS=raw)
    if expected == ("a+", "b("):
        with pytest.raises(ConfigError) as info:
            load(tmp_path, env)
        assert "pattern 2 'b(' does not compile" in str(info.value)
        return
    assert load(tmp_path, env).settings.redact_patterns == expected


@pytest.mark.parametrize(
    ("yaml_value", "tail"),
    [
        ("['ok', '(unclosed']", "pattern 2 '(unclosed' does not compile: missing ), "),
        ("['[a-']", "pattern 1 '[a-' does not compile: unterminated character set"),
        ("'corp-[0-9]+'", "expected a list of regular expressions, got 'corp-[0-9]+'"),
        ("[1, 2]", "expected a list of regular expressions, got a list"),
        ("5", "expected a list of regular expressions, got 5"),
    ],
)
def test_bad_patterns_are_one_line_errors(tmp_path: Path, yaml_value: str, tail: str) -> None:
    project = _project(tmp_path, f"linux_tracing:\n  redact_patterns: {yaml_value}\n")
    path = project / ".autoskillit" / "config.yaml"
    with pytest.raises(ConfigError) as info:
        load(project, clean_env(tmp_path))
    message = str(info.value)
    assert message.startswith(f"{path}: linux_tracing.redact_patterns: ")
    assert tail in message
    assert "\n" not in message


def test_bad_pattern_stops_run_with_status_2(tmp_path: Path) -> None:
    project = _project(tmp_path, "linux_tracing:\n  redact_patterns: ['(']\n")
    proc = subprocess.run(
        tracer("run", "--", "true"), cwd=project, env=clean_env(tmp_path), capture_output=True
    )
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "linux_tracing.redact_patterns" in lines[0], lines
    assert "Traceback" not in proc.stderr.decode()


# -- end to end: nothing planted is written anywhere --------------------------------


def test_no_planted_secret_reaches_any_file(tmp_path: Path, log_root: Path) -> None:
    secret_dir = tmp_path / "work-ghp_0123456789abcdefghijZYXWVUTSRQ9876"
    secret_dir.mkdir()
    args = [arg for _, planted, _ in PLANTED for arg in planted]
    args += ["--label", "corp-77331"]  # the user's own pattern
    out = tmp_path / "argv.json"
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__REDACT_PATTERNS=r"corp-\d+")
    traced = run_traced(
        log_root, workload("argv", out, *args), env=env, cwd=secret_dir, interval=0.05
    )
    assert traced.proc.returncode == 0, traced.stderr
    # The child got every argument exactly as given.
    assert [bytes.fromhex(h).decode() for h in json.loads(out.read_text())] == args
    secrets = [secret for _, _, secret in PLANTED] + ["corp-77331", "ZYXWVUTSRQ9876"]
    written = [p for p in log_root.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"sessions.jsonl", "proc_trace.jsonl", "summary.json"}
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} written to {path}"
            escaped = json.dumps(secret)[1:-1].encode()
            assert escaped not in data, f"{secret!r} written to {path}"
    for secret in secrets:
        assert secret not in traced.stderr, f"{secret!r} logged on stderr"
    summary = traced.session.summary
    assert MASK in summary["skill_command"] and MASK in summary["cwd"]
    assert summary["cwd"].endswith("work-[REDACTED]")


def test_leftover_processes_command_lines_are_redacted(log_root: Path, tmp_path: Path) -> None:
    """A daemon the command leaves behind is listed in summary.json: without its secret."""
    import signal

    pidfile = tmp_path / "daemon.json"
    secret = "hunter2-leftover-9f3a"
    command = workload("daemonize", pidfile, "30", "no", "--token", secret)
    traced = run_traced(log_root, command, interval=None)
    daemon = json.loads(pidfile.read_text())["pid"]
    try:
        [orphan] = traced.session.summary["orphans"]
        assert orphan["pid"] == daemon and MASK in orphan["cmdline"]
        for path in (p for p in log_root.rglob("*") if p.is_file()):
            assert secret.encode() not in path.read_bytes(), path
    finally:
        os.kill(daemon, signal.SIGKILL)


def test_spawn_failure_reason_is_redacted(log_root: Path) -> None:
    traced = run_traced(log_root, ["/no/such/dir/ghp_0123456789abcdefghijABCDEFGHIJ0000"])
    assert traced.proc.returncode == 127
    for path in (p for p in log_root.rglob("*") if p.is_file()):
        assert b"ABCDEFGHIJ0000" not in path.read_bytes()


# -- properties ------------------------------------------------------------------


WORDS = st.sampled_from(
    ["--token", "--token=", "Bearer", "KEY=", "https://", "a:b@", "sk-", "ghp_", " ", "=", "x"]
)
ARGS = st.lists(st.lists(WORDS | st.text(max_size=12), max_size=6).map("".join), max_size=8)


@settings(max_examples=200, deadline=None)
@given(ARGS)
def test_any_arguments_redact_without_error_and_stably(args: list[str]) -> None:
    redactor = Redactor()
    once = redactor.argv(args)
    assert len(once) == len(args)
    assert redactor.argv(once) == once
    command_line(args)  # always quotable


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(["", "'", "a b"]))
def test_words_are_quoted_as_shlex_quotes_them(word: str) -> None:
    import shlex

    assert shell_quote(word) == shlex.quote(word)
    if not might_hold_secret(word):
        assert shlex.split(command_line(["echo", word])) == ["echo", word]


def test_long_arguments_are_redacted_without_backtracking(tmp_path: Path) -> None:
    """A rule that backtracked on these 100-200 KB arguments would take hours, not
    the timeout; how long they take is a figure of ``make bench`` ("redaction")."""
    subprocess.run(
        workload("hostile-redaction"),
        env=clean_env(tmp_path),
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )


# -- the prefilter: text without a trigger fragment is left alone by every rule ------

_PIECES = st.sampled_from(
    [
        "--", "-", "=", ":", "@", "/", " ", "'", '"', "_", ".", "x", "A", "0", "9", "Z",
        "token", "TOK", "secret", "pass", "word", "pwd", "key", "api", "auth", "bearer",
        "://", "sk-", "ghp_", "github_pat_", "glpat-", "AKIA", "ASIA", "xox", "AIza", "npm_",
        "eyJ", "-----BEGIN", "PRIVATE KEY-----", "credential", "Authorization", "https",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=6), max_size=30).map("".join))
def test_prefilter_never_skips_what_the_rules_would_redact(text: str) -> None:
    """Without a trigger fragment, the full rule set (forced) changes nothing."""
    from autoskillit_trace import redact

    if redact.might_hold_secret(text):
        return
    rules = redact._Rules.get()
    forced = rules.assignment.sub(redact._replace_assignment, text)
    for pattern in rules.patterns:
        forced = pattern.sub(redact._replace, forced)
    assert forced == text
    assert not rules.option.match(text)


def test_plain_commands_compile_no_rules() -> None:
    import subprocess
    import sys

    code = (
        "from autoskillit_trace import redact\n"
        "r = redact.Redactor()\n"
        "assert r.argv(['make', '-j8', 'test']) == ['make', '-j8', 'test']\n"
        "assert r.text('/home/monkey/passport') == '/home/monkey/passport'\n"
        "assert r.argv(['git', 'log', 'author', 'key']) == ['git', 'log', 'author', 'key']\n"
        "print(redact._Rules.compiled is None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
