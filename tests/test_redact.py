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
from autoskillit_trace.redact import MASK, Redactor, command_line, might_hold_secret, shell_quote

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
        ("[1, 2]", "expected a list of regular expressions, got a list [1, 2]"),
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
    [
        "--token", "--token=", "Bearer", "KEY=", "https://", "a:b@", "sk-", "ghp_", " ", "=", "x",
        "mysql", "curl", "htpasswd", "sshpass", "-p", "-u", "-b", "u:p", "sh -c '", "'", '"', ";",
    ]
)  # fmt: skip
ARGS = st.lists(st.lists(WORDS | st.text(max_size=12), max_size=6).map("".join), max_size=8)


@settings(max_examples=500, deadline=None)
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
        # The per-program rules: names, their options, the shapes of values, shell syntax.
        "mysql", "mysq", "curl", "sshpass", "htpasswd", "docker", "login", "openssl", "7z",
        "smbclient", "redis-cli", "ldapsearch", "keytool", "-p", "-pw", "-u", "-a", "-w", "-P",
        "-b", "-nb", "-sSu", "-passin", "-storepass", "--pass", "--user=", "-k", "bob:", "pass:",
        "%", "sudo ", "env ", "MYSQL_PWD=", "SSHPASS=", "REDISCLI_AUTH=", "sh -c ", ";", "&&",
        "|", "2>&1", "\\", "\n", "\t",
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
    forced = redact.mask_programs_in_text(text)
    assert redact.mask_programs(text.split()) == text.split()
    forced = rules.assignment.sub(redact._replace_assignment, forced)
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


# -- per program: the options whose value is a password depend on the program ------

# (what, the command as run, the secret).  Each program is a stand-in of that name
# on PATH (see ``standins``): the wrapper records the command exactly as it would
# record the real program's.
PROGRAM_FORMS: list[tuple[str, list[str], str]] = [
    ("mysql -pX", ["mysql", "-uroot", "-pmy-sec-01", "shop"], "my-sec-01"),
    ("mariadb -pX", ["mariadb", "-h", "db", "-pmy-sec-02"], "my-sec-02"),
    ("mysqldump -pX", ["mysqldump", "-pmy-sec-03", "shop"], "my-sec-03"),
    ("mysqladmin --password=X", ["mysqladmin", "--password=my-sec-04", "status"], "my-sec-04"),
    ("MYSQL_PWD=", ["env", "MYSQL_PWD=my-sec-05", "mysql", "shop"], "my-sec-05"),
    ("psql URI", ["psql", "postgres://app:pg-sec-06@db/shop"], "pg-sec-06"),
    ("psql conninfo", ["psql", "host=db password=pg-sec-07 dbname=shop"], "pg-sec-07"),
    ("PGPASSWORD=", ["env", "PGPASSWORD=pg-sec-08", "psql", "-h", "db"], "pg-sec-08"),
    ("mongosh -p X", ["mongosh", "-u", "adm", "-p", "mg-sec-09", "--quiet"], "mg-sec-09"),
    ("mongodump --password X", ["mongodump", "--password", "mg-sec-10"], "mg-sec-10"),
    ("mongo URI", ["mongosh", "mongodb://adm:mg-sec-11@db:27017/x"], "mg-sec-11"),
    ("redis-cli -a X", ["redis-cli", "-a", "rd-sec-12", "ping"], "rd-sec-12"),
    ("redis-cli --pass X", ["redis-cli", "--pass", "rd-sec-13", "ping"], "rd-sec-13"),
    ("redis-cli -u URI", ["redis-cli", "-u", "redis://:rd-sec-14@cache:6379/0"], "rd-sec-14"),
    ("REDISCLI_AUTH=", ["env", "REDISCLI_AUTH=rd-sec-15", "redis-cli", "ping"], "rd-sec-15"),
    (
        "docker login -p X",
        ["docker", "login", "-u", "bob", "-p", "dk-sec-16", "reg.io"],
        "dk-sec-16",
    ),
    ("docker login --password X", ["docker", "login", "--password", "dk-sec-17"], "dk-sec-17"),
    ("podman login -pX", ["podman", "login", "-pdk-sec-18", "quay.io"], "dk-sec-18"),
    ("sshpass -p X", ["sshpass", "-p", "sp-sec-19", "ssh", "-p", "2222", "host"], "sp-sec-19"),
    ("sshpass -pX", ["sshpass", "-psp-sec-20", "scp", "f", "host:"], "sp-sec-20"),
    ("SSHPASS= sshpass -e", ["env", "SSHPASS=sp-sec-21", "sshpass", "-e", "ssh", "h"], "sp-sec-21"),
    ("curl -u user:X", ["curl", "-u", "bob:cu-sec-22", "https://api.example"], "cu-sec-22"),
    ("curl --user user:X", ["curl", "--user", "bob:cu-sec-23", "https://x.example"], "cu-sec-23"),
    ("curl -sSu user:X", ["curl", "-sSu", "bob:cu-sec-24", "https://x.example"], "cu-sec-24"),
    ("curl -uuser:X", ["curl", "-ubob:cu-sec-25", "https://x.example"], "cu-sec-25"),
    ("curl --proxy-user", ["curl", "--proxy-user", "bob:cu-sec-26", "https://x"], "cu-sec-26"),
    ("curl -H Authorization", ["curl", "-H", "Authorization: Basic cu-sec-27", "h"], "cu-sec-27"),
    ("curl --oauth2-bearer", ["curl", "--oauth2-bearer", "cu-sec-28", "https://x"], "cu-sec-28"),
    ("wget --password X", ["wget", "--user", "bob", "--password", "wg-sec-29", "h"], "wg-sec-29"),
    ("wget --http-password=X", ["wget", "--http-password=wg-sec-30", "h"], "wg-sec-30"),
    ("wget --ftp-password X", ["wget", "--ftp-password", "wg-sec-31", "h"], "wg-sec-31"),
    ("wget --proxy-password=X", ["wget", "--proxy-password=wg-sec-32", "h"], "wg-sec-32"),
    ("openssl -passin pass:X", ["openssl", "rsa", "-passin", "pass:os-sec-33"], "os-sec-33"),
    ("openssl -passout pass:X", ["openssl", "req", "-passout", "pass:os-sec-34"], "os-sec-34"),
    ("openssl enc -pass pass:X", ["openssl", "enc", "-pass", "pass:os-sec-35"], "os-sec-35"),
    ("openssl enc -k X", ["openssl", "enc", "-aes-256-cbc", "-k", "os-sec-36"], "os-sec-36"),
    ("htpasswd -b", ["htpasswd", "-b", "users", "bob", "ht-sec-37"], "ht-sec-37"),
    ("htpasswd -bc", ["htpasswd", "-bc", "users", "bob", "ht-sec-38"], "ht-sec-38"),
    ("htpasswd -nbB", ["htpasswd", "-nbB", "bob", "ht-sec-39"], "ht-sec-39"),
    ("htpasswd -b -C", ["htpasswd", "-B", "-C", "12", "-b", "f", "bob", "ht-sec-40"], "ht-sec-40"),
    ("git URL", ["git", "clone", "https://bob:gt-sec-41@git.example/r.git"], "gt-sec-41"),
    ("smbclient -U u%X", ["smbclient", "//srv/share", "-U", "bob%sm-sec-42"], "sm-sec-42"),
    ("smbclient -Uu%X", ["smbclient", "//srv/share", "-Ubob%sm-sec-43"], "sm-sec-43"),
    ("smbclient --user=u%X", ["smbclient", "//srv/s", "--user=bob%sm-sec-44"], "sm-sec-44"),
    ("ldapsearch -w X", ["ldapsearch", "-x", "-D", "cn=adm", "-w", "ld-sec-45"], "ld-sec-45"),
    ("ldapsearch -xw X", ["ldapsearch", "-xw", "ld-sec-46", "-b", "dc=ex"], "ld-sec-46"),
    ("ldapadd -wX", ["ldapadd", "-x", "-wld-sec-47", "-f", "a.ldif"], "ld-sec-47"),
    ("ldappasswd -s X", ["ldappasswd", "-x", "-W", "-s", "ld-sec-48", "uid=b"], "ld-sec-48"),
    ("sqlcmd -P X", ["sqlcmd", "-S", "db", "-U", "sa", "-P", "sq-sec-49"], "sq-sec-49"),
    ("bcp -P X", ["bcp", "t", "out", "f", "-U", "sa", "-P", "sq-sec-50"], "sq-sec-50"),
    ("zip -P X", ["zip", "-P", "zp-sec-51", "out.zip", "f"], "zp-sec-51"),
    ("zip -rP X", ["zip", "-rP", "zp-sec-52", "out.zip", "dir"], "zp-sec-52"),
    ("unzip -P X", ["unzip", "-P", "zp-sec-53", "in.zip"], "zp-sec-53"),
    ("7z -pX", ["7z", "a", "-p7z-sec-54", "out.7z", "dir"], "7z-sec-54"),
    ("keytool -storepass X", ["keytool", "-list", "-storepass", "kt-sec-55"], "kt-sec-55"),
    ("jarsigner -keypass X", ["jarsigner", "-keypass", "kt-sec-56", "a.jar", "k"], "kt-sec-56"),
    (
        "az login -p X",
        ["az", "login", "--service-principal", "-u", "a", "-p", "az-sec-57"],
        "az-sec-57",
    ),
    (
        "twine -p X",
        ["twine", "upload", "-u", "__token__", "-p", "tw-sec-58", "dist/x"],
        "tw-sec-58",
    ),
    # Wrapped: the program need not come first.
    ("true mysql -pX", ["true", "mysql", "-pwr-sec-59"], "wr-sec-59"),
    ("sudo -E mysql -pX", ["sudo", "-E", "mysql", "-pwr-sec-60", "shop"], "wr-sec-60"),
    ("env X=1 mysql -pX", ["env", "LANG=C", "/usr/local/bin/mysql", "-pwr-sec-61"], "wr-sec-61"),
    ("timeout sshpass", ["timeout", "30", "sshpass", "-p", "wr-sec-62", "ssh", "h"], "wr-sec-62"),
    ("sh -c 'mysql -pX'", ["sh", "-c", "mysql -pwr-sec-63 shop; true"], "wr-sec-63"),
    ("sh -c quoted value", ["sh", "-c", "mysql -p'wr sec 64' shop"], "wr sec 64"),
    ("sh -c pipeline", ["sh", "-c", "true | docker login -p wr-sec-65 r"], "wr-sec-65"),
    ("sh -c in sh -c", ["sh", "-c", "sh -c 'curl -u \"bob:wr-sec-66\" x'"], "wr-sec-66"),
    ("sh -c htpasswd 2>&1", ["sh", "-c", "htpasswd -b f bob wr-sec-67 2>&1; true"], "wr-sec-67"),
]

# Stand-ins for every program above that is not a shell or coreutils.
_STANDINS = sorted(
    {args[0] for _, args, _ in PROGRAM_FORMS}
    | {"mysql", "psql", "redis-cli", "sshpass", "mongosh", "docker", "curl", "htpasswd"}
    - {"env", "sh", "true", "timeout"}
)


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of programs named mysql, docker, curl...: each exits 0 and ignores its arguments."""
    folder = tmp_path_factory.mktemp("standins")
    for name in _STANDINS:
        path = folder / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return folder


def _everything_written(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and "standins" not in p.parts]


def _assert_nowhere(secret: str, files: list[Path], stderr: str) -> None:
    for path in files:
        data = path.read_bytes()
        for form in {secret, json.dumps(secret)[1:-1]}:
            assert form.encode() not in data, f"{secret!r} written to {path}"
    assert secret not in stderr, f"{secret!r} logged on stderr"


@pytest.mark.parametrize(
    ("what", "args", "secret"), PROGRAM_FORMS, ids=[p[0] for p in PROGRAM_FORMS]
)
def test_each_programs_password_reaches_no_file(
    what: str, args: list[str], secret: str, tmp_path: Path, standins: Path
) -> None:
    """The real CLI, with every export on: the secret is in no file and no log line."""
    log_root = tmp_path / "logs"
    env = clean_env(
        tmp_path,
        PATH=f"{standins}{os.pathsep}{os.environ['PATH']}",
        GITHUB_STEP_SUMMARY=str(tmp_path / "step-summary.md"),
    )
    junit = tmp_path / "report.xml"
    traced = run_traced(log_root, args, env=env, extra=("--junit", junit), interval=0.05)
    assert traced.proc.returncode == 0, traced.stderr
    written = _everything_written(tmp_path)
    assert {p.name for p in written} >= {
        "sessions.jsonl", "proc_trace.jsonl", "summary.json", "report.xml", "step-summary.md"
    }  # fmt: skip
    _assert_nowhere(secret, written, traced.stderr)
    recorded = traced.session.summary["skill_command"]
    assert MASK in recorded
    assert recorded.split()[0] == shell_quote(args[0])  # the rest of the command stays


def test_a_leftover_programs_password_from_proc_is_redacted(tmp_path: Path) -> None:
    """A ``mysql -pX`` left running is listed from /proc: its password is not.

    The secret is not in the wrapper's own command line: the script reads it
    from a file, so only the leftover's command line (from /proc) holds it.
    """
    import signal

    secret = "proc-sec-7d1e"
    (tmp_path / "secret").write_text(secret)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mysql = bin_dir / "mysql"
    mysql.write_text('#!/bin/sh\necho $$ > "$PIDFILE"\nfor _ in $(seq 300); do sleep 0.1; done\n')
    mysql.chmod(0o755)
    pidfile = tmp_path / "mysql.pid"
    script = (
        'mysql -p"$(cat secret)" shop >/dev/null 2>&1 &'
        ' while [ ! -s "$PIDFILE" ]; do sleep 0.01; done'
    )
    env = clean_env(
        tmp_path, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PIDFILE=str(pidfile)
    )
    try:
        traced = run_traced(tmp_path / "logs", ["sh", "-c", script], env=env, cwd=tmp_path)
        assert traced.proc.returncode == 0, traced.stderr
        # The stand-in, and maybe a fork of it not yet turned into its sleep.
        listed = [o["cmdline"] for o in traced.session.summary["orphans"]]
        mine = [cmdline for cmdline in listed if "mysql" in cmdline]
        assert mine and all(c.endswith(f"/bin/mysql -p{MASK} shop") for c in mine), listed
        files = [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
        _assert_nowhere(secret, files, traced.stderr)
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


@pytest.mark.parametrize(
    "args",
    [
        ["ssh", "-p", "2222", "host"],
        ["docker", "run", "-p", "8080:80", "img"],
        ["podman", "run", "-p", "80:80", "img", "login"],
        ["mysql", "-p", "dbname"],
        ["mysql", "--port=3306", "-hprod-db", "-P", "3306", "-p", "shop"],
        ["grep", "-p", "pattern", "file"],
        ["redis-cli", "-p", "6380", "-h", "cache"],
        ["mongosh", "--port", "27017"],
        ["curl", "-u", "bob", "-sS", "https://example.com"],
        ["openssl", "rsa", "-passin", "env:KEY_PASS", "-passout", "file:/run/pass"],
        ["openssl", "enc", "-kfile", "key.txt"],
        ["htpasswd", "users", "bob"],
        ["smbclient", "-U", "bob", "//srv/share"],
        ["ldapsearch", "-x", "-W", "-D", "cn=admin"],
        ["7z", "a", "-p", "out.7z"],
        ["zip", "-r", "out.zip", "dir"],
        ["keytool", "-list", "-storepass:env", "STORE_PASS"],
        ["sshpass", "-f", "pwfile", "ssh", "-p", "2222", "host"],
        ["docker", "login", "-u", "bob", "--password-stdin", "ghcr.io"],
        ["sh", "-c", "docker login --password-stdin ghcr.io"],
        ["sshpass", "-e", "ssh", "-o", "Port=2222", "host", "mysql", "-p", "shop"],
        ["sh", "-c", "ssh -p 2222 host && docker run -p 80:80 img"],
    ],
    ids=" ".join,
)
def test_what_a_program_takes_as_no_secret_is_kept(args: list[str]) -> None:
    """Over-redaction hides what a reader needs: ports, users, file names stay."""
    assert Redactor().argv(args) == args
    assert Redactor().text(" ".join(args)) == " ".join(args)


def test_wrappers_options_are_not_the_wrapped_commands() -> None:
    """sshpass's -p is its password; ssh's -p after it is ssh's port."""
    recorded = Redactor().argv(["sshpass", "-p", "pw", "ssh", "-p", "2222", "host"])
    assert recorded == ["sshpass", "-p", MASK, "ssh", "-p", "2222", "host"]
    recorded = Redactor().argv(["sshpass", "-P", "assword:", "-p", "pw", "ssh", "-p", "22", "h"])
    assert recorded == ["sshpass", "-P", "assword:", "-p", MASK, "ssh", "-p", "22", "h"]


def test_only_the_secret_part_of_a_value_goes() -> None:
    redactor = Redactor()
    assert redactor.argv(["curl", "-u", "bob:pw", "x"]) == ["curl", "-u", f"bob:{MASK}", "x"]
    assert redactor.argv(["smbclient", "-Ubob%pw"]) == ["smbclient", f"-Ubob%{MASK}"]
    assert redactor.argv(["openssl", "rsa", "-passin", "pass:pw"])[-1] == f"pass:{MASK}"
    assert redactor.argv(["htpasswd", "-nb", "bob", "pw"]) == ["htpasswd", "-nb", "bob", MASK]
    assert redactor.text("sh -c 'mysql -p\"a b\" shop'") == f"sh -c 'mysql -p{MASK} shop'"


def test_every_programs_variable_trips_the_prefilter() -> None:
    """``MYSQL_PWD=x`` must reach the assignment rule: its name holds a trigger word."""
    from autoskillit_trace.redact import PROGRAMS, WORD_TRIGGERS

    for program in PROGRAMS:
        if program.env:
            assert any(word in program.env.lower() for word in WORD_TRIGGERS), program.env
            assert Redactor().text(f"{program.env}=s3cr3t") == f"{program.env}={MASK}"


_WRAPPERS = st.lists(
    st.sampled_from(["sudo", "-E", "env", "LANG=C", "nice", "-n", "5", "timeout", "30", "true"]),
    max_size=4,
)
_TRAILING = st.lists(st.sampled_from(["shop", "-v", "--verbose", "host", "/tmp/x"]), max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROGRAM_FORMS), _WRAPPERS, _TRAILING)
def test_a_programs_secret_goes_however_the_command_is_given(
    form: tuple[str, list[str], str], wrappers: list[str], trailing: list[str]
) -> None:
    """As arguments, as a script for sh -c (also nested), as /proc shows a command line."""
    import shlex

    _, args, secret = form
    if "htpasswd" in " ".join(args):
        trailing = []  # its password is its last operand
    command = [*wrappers, *args, *trailing]
    redactor = Redactor()
    assert secret not in " ".join(redactor.argv(command))
    script = shlex.join(command)
    assert secret not in " ".join(redactor.argv(["sh", "-c", script]))
    assert secret not in " ".join(redactor.argv(["bash", "-c", shlex.join(["sh", "-c", script])]))
    if all(" " not in arg for arg in args):
        assert secret not in redactor.text(" ".join(command))  # as the sampler reads /proc
