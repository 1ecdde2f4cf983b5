"""The options of ``run``: one table, one stdlib parser.

``run`` sits in front of every CI step, so it does not import click (~30 ms
here, most of the start-up budget).  The table below drives this parser and
also builds the click command that renders ``run --help``.
"""

from __future__ import annotations

from autoskillit_trace.records import Record
from autoskillit_trace.store.layout import session_id_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

USAGE = "autoskillit-trace run [OPTIONS] -- CMD [ARGS...]"


class UsageError(Exception):
    """A mistake on the command line; the message is one line, exit status 2."""


class HelpRequested(Exception):
    """``-h``/``--help`` before ``--``: click renders the help."""


class RunOption(Record):
    """One option of ``run``: how it is typed, parsed, shown in --help."""

    __slots__ = (
        "choices", "config_key", "dest", "duration", "flag_value", "flags", "help", "metavar",
    )  # fmt: skip

    def __init__(
        self,
        flags: tuple[str, ...],
        dest: str,
        help: str,
        metavar: str | None = None,  # None: a flag that takes no value
        config_key: str | None = None,  # the setting it overrides
        flag_value: object = True,
        choices: tuple[str, ...] | None = None,
        duration: bool = False,  # the value is a duration (30, 1.5s, 10m, 2h), in seconds
    ) -> None:
        self.flags = flags
        self.dest = dest
        self.help = help
        self.metavar = metavar
        self.config_key = config_key
        self.flag_value = flag_value
        self.choices = choices
        self.duration = duration


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        ("--interval",),
        "interval",
        "Seconds between snapshots (default 5.0).",
        metavar="SECONDS",
        config_key="linux_tracing.proc_interval",
    ),
    RunOption(
        ("--log-dir",),
        "log_dir",
        "Log root (default: the platform's data folder).",
        metavar="PATH",
        config_key="linux_tracing.log_dir",
    ),
    RunOption(
        ("--session-id",),
        "session_id",
        "Name of the session folder ([A-Za-z0-9][A-Za-z0-9._-]{0,127}); "
        "default: $AUTOSKILLIT_SESSION_ID, else pid-<pid>-<UTC time>.",
        metavar="ID",
    ),
    RunOption(
        ("--no-trace",),
        "no_trace",
        "Run the command without recording anything.",
        config_key="linux_tracing.enabled",
        flag_value=False,
    ),
    RunOption(
        ("--log-format",),
        "log_format",
        "Log lines on stderr: console, json, or auto (console on a terminal).",
        metavar="FORMAT",
        choices=("auto", "console", "json"),
    ),
    RunOption(("-q", "--quiet"), "quiet", "Log errors only."),
    RunOption(
        ("--agent-events",),
        "agent_events",
        "Read the command's stdout (passed through unchanged) as an agent's event stream "
        "and log its turns, tool calls and errors in events.jsonl.",
        config_key="linux_tracing.agent_events",
    ),
    RunOption(
        ("--agent-format",),
        "agent_format",
        "The stream format --agent-events reads: auto (the default: the format named "
        "as the command, else claude) or a format's name.",
        metavar="NAME",
        config_key="linux_tracing.agent_format",
    ),
    RunOption(
        ("--timeout",),
        "timeout",
        "Stop the whole process tree after DURATION (30, 90s, 10m, 2h); exit status 124.",
        metavar="DURATION",
        duration=True,
    ),
    RunOption(
        ("--idle-timeout",),
        "idle_timeout",
        "Stop the tree when it uses no CPU (and, with --agent-events, prints nothing) "
        "for DURATION; exit status 124.",
        metavar="DURATION",
        duration=True,
    ),
    RunOption(
        ("--kill-grace",),
        "kill_grace",
        "Seconds between SIGTERM and SIGKILL when stopping processes (default 5s).",
        metavar="DURATION",
        duration=True,
    ),
    RunOption(
        ("--kill-orphans",),
        "kill_orphans",
        "When the command exits, stop the descendants it left running (SIGTERM, then SIGKILL).",
    ),
    RunOption(
        ("--pushgateway",),
        "pushgateway_url",
        "Push the session's metrics to this Prometheus Pushgateway when it ends.",
        metavar="URL",
        config_key="linux_tracing.pushgateway_url",
    ),
    RunOption(
        ("--textfile-dir",),
        "textfile_dir",
        "Write the session's metrics into this node_exporter textfile-collector folder.",
        metavar="PATH",
        config_key="linux_tracing.textfile_dir",
    ),
    RunOption(
        ("--label",),
        "labels",
        "An extra label on exported metrics (repeatable; added to linux_tracing.labels).",
        metavar="NAME=VALUE",
    ),
    RunOption(
        ("--job",),
        "job",
        "The session's job: its runs are compared with each other "
        "(default: $AUTOSKILLIT_TRACE_JOB, else derived from the command line).",
        metavar="NAME",
        config_key="linux_tracing.job",
    ),
    RunOption(
        ("--junit",),
        "junit",
        "Add a JUnit XML test case for the session to FILE (created if absent).",
        metavar="FILE",
    ),
    RunOption(
        ("--html",),
        "html_report",
        "Write report.html, a self-contained HTML report, into the session folder at the end.",
        config_key="linux_tracing.html_report",
    ),
)

_BY_FLAG = {flag: option for option in RUN_OPTIONS for flag in option.flags}


class RunArgs(Record):
    """What the command line of ``run`` asked for."""

    __slots__ = (
        "argv", "idle_timeout", "junit", "kill_grace", "kill_orphans", "labels", "log_format",
        "overrides", "quiet", "session_id", "timeout",
    )  # fmt: skip

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.session_id: str | None = None
        self.log_format = "auto"
        self.quiet = False
        self.timeout: float | None = None
        self.idle_timeout: float | None = None
        self.kill_grace = 5.0
        self.kill_orphans = False
        self.overrides: dict[str, tuple[str, object]] = {}
        self.labels: list[tuple[str, str]] = []  # --label, in order; added to the setting's
        self.junit: str | None = None


def parse_run_args(args: list[str], env: Mapping[str, str]) -> RunArgs:
    """Options up to ``--``, the command after it.  Raises UsageError or HelpRequested."""
    try:
        split = args.index("--")
    except ValueError:
        if any(a in ("-h", "--help") for a in args):
            raise HelpRequested from None
        options, command = _split_without_separator(args)
        if not command:
            raise UsageError(f"no command given; usage: {USAGE}") from None
        if command[0].startswith("-"):
            raise UsageError(
                f"no such option: {command[0]!r} (see 'autoskillit-trace run --help'); "
                "the command goes after '--'"
            ) from None
        import shlex

        fixed = shlex.join(["autoskillit-trace", "run", *options, "--", *command])
        raise UsageError(
            f"missing '--' before the command; usage: {USAGE} (did you mean: {fixed})"
        ) from None
    options, command = args[:split], args[split + 1 :]
    result = RunArgs(argv=command)
    i = 0
    while i < len(options):
        word = options[i]
        name, has_value, inline = word.partition("=")
        if word in ("-h", "--help"):
            raise HelpRequested
        option = _BY_FLAG.get(name if name.startswith("--") else word)
        if option is None:
            raise UsageError(
                f"no such option: {word!r} (see 'autoskillit-trace run --help'); "
                f"the command goes after '--'"
            )
        if option.metavar is None:
            if has_value:
                raise UsageError(f"option {name} takes no value")
            value: object = option.flag_value
        elif has_value:
            value = inline
        else:
            i += 1
            if i >= len(options):
                raise _needs_value(word, option)
            value = options[i]
        _apply(result, option, option.flags[-1] if not name.startswith("--") else name, value)
        i += 1
    if not command:
        raise UsageError(f"no command given after '--'; usage: {USAGE}")
    if result.session_id is None and env.get("AUTOSKILLIT_SESSION_ID"):
        result.session_id = _checked_id(env["AUTOSKILLIT_SESSION_ID"], "AUTOSKILLIT_SESSION_ID")
    return result


def _split_without_separator(args: list[str]) -> tuple[list[str], list[str]]:
    """Where the options would end had ``--`` been typed: known options and their values."""
    i = 0
    while i < len(args):
        word = args[i]
        name, has_value, _ = word.partition("=")
        option = _BY_FLAG.get(name if name.startswith("--") else word)
        if option is None:
            break
        if option.metavar is not None and not has_value:
            if i + 1 == len(args):  # ``run --interval``: the value, not the command, is missing
                raise _needs_value(word, option)
            i += 1  # its value
        i += 1
    return args[:i], args[i:]


def _needs_value(typed: str, option: RunOption) -> UsageError:
    return UsageError(f"option {typed} needs a value ({option.metavar})")


def empty_value_problem(typed: str, metavar: str) -> str:
    """The one line for an empty option value (``--log-dir ''``, often an unset variable).

    Every option's default is had by leaving the option out, so an empty
    value is always a mistake; ``ls``, ``show``, ``prune`` and ``config show``
    word it the same.
    """
    return (
        f"option {typed}: the value is empty; expected {metavar} "
        f"(leave {typed} out for the default)"
    )


def _apply(result: RunArgs, option: RunOption, typed: str, value: object) -> None:
    if isinstance(value, str) and not _is_utf8(value):
        raise UsageError(f"option {typed}: value is not valid UTF-8")
    if option.choices is not None and value not in option.choices:
        raise UsageError(f"option {typed}: {value!r} is not one of {', '.join(option.choices)}")
    if value == "":
        raise UsageError(empty_value_problem(typed, str(option.metavar)))
    if option.config_key is not None:
        result.overrides[option.config_key] = (typed, value)
    elif option.dest == "session_id":
        result.session_id = _checked_id(str(value), typed)
    elif option.dest == "labels":
        from autoskillit_trace.metrics import parse_label

        try:
            result.labels.append(parse_label(str(value)))
        except ValueError as exc:
            raise UsageError(f"option {typed}: {exc}") from None
    elif option.duration:
        setattr(result, option.dest, _checked_duration(str(value), typed))
    else:
        setattr(result, option.dest, value)


# The longest --timeout, --idle-timeout or --kill-grace: a year is longer than
# any job, and far below what the waits can take (sigtimedwait's ~292 years).
MAX_LIMIT_S = 365 * 86_400.0


def _checked_duration(text: str, where: str) -> float:
    """A limit's duration: 0 (no limit, or an immediate SIGKILL for --kill-grace) to a year."""
    from autoskillit_trace.timeutil import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"option {where}: {exc}") from None
    if seconds > MAX_LIMIT_S:
        raise UsageError(f"option {where}: {text!r} is too long; expected at most 365d")
    return seconds


def _checked_id(session_id: str, where: str) -> str:
    problem = session_id_problem(session_id)
    if problem is not None:
        shown = session_id if len(session_id) <= 40 else session_id[:40] + "..."
        raise UsageError(
            f"{where}: invalid session id {shown!r}: {problem}; expected "
            "[A-Za-z0-9][A-Za-z0-9._-]{0,127} without '..'"
        )
    return session_id


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
