"""Click commands only: parse, delegate, map errors to one line and an exit status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from autoskillit_trace import __version__
from autoskillit_trace.runopts import RUN_OPTIONS, USAGE, empty_value_problem

PROG = "autoskillit-trace"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name=PROG)
def cli() -> None:
    """Run a command as a supervised child and record its process-tree diagnostics.

    \b
    autoskillit-trace run -- make test
    autoskillit-trace ls --failed
    autoskillit-trace show SESSION
    autoskillit-trace report --out DIR
    autoskillit-trace compare SESSION_A SESSION_B
    autoskillit-trace trend JOB
    autoskillit-trace prune --older-than 30d
    autoskillit-trace config show

    Tab completion (session ids, job names): add to ~/.bashrc
    eval "$(_AUTOSKILLIT_TRACE_COMPLETE=bash_source autoskillit-trace)"
    (zsh: zsh_source in ~/.zshrc; fish: fish_source, see the README).
    """


class _RunCommand(click.Command):
    """Keeps the raw arguments: ``run`` has its own parser (see runopts)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = args[: args.index("--")] if "--" in args else args
        if any(a in ("-h", "--help") for a in options):
            return super().parse_args(ctx, args)
        ctx.meta["raw_args"] = list(args)
        return []


def _run_params() -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for option in RUN_OPTIONS:
        params.append(
            click.Option(
                list(option.flags),
                help=option.help,
                is_flag=option.metavar is None,
                metavar=option.metavar,
                type=click.Choice(option.choices) if option.choices else None,
            )
        )
    params.append(click.Argument(["command"], nargs=-1, required=False))
    return params


def _run_callback(**_: Any) -> int:
    from autoskillit_trace.commands.run import run_main

    return run_main(click.get_current_context().meta["raw_args"])


cli.add_command(
    _RunCommand(
        "run",
        callback=_run_callback,
        params=_run_params(),
        help=(
            "Run CMD as a supervised child: same output, exit status and signals, "
            "plus a session folder of process diagnostics.\n\n"
            f"\b\nUsage: {USAGE}"
        ),
        short_help="Run a command and record its session diagnostics.",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
)


class _Parsed(click.ParamType):  # type: ignore[type-arg]
    """A value read by one of the project's text parsers; its ValueError is the message."""

    def __init__(self, name: str, parse: Callable[[str], float]) -> None:
        self.name = name
        self._parse = parse

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return self._parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, in seconds."""
    from autoskillit_trace.timeutil import parse_duration

    return parse_duration(text)


def _parse_size(text: str) -> float:
    """``500M``, ``1.5G``: a size in KiB, as peak_rss_kb."""
    from autoskillit_trace.textfmt import parse_size_kb

    return parse_size_kb(text)


def _parse_since(text: str) -> float:
    """``12h``, ``7d`` ago, or ``2026-11-29``, ``2026-11-29T10:00Z``: seconds since the epoch."""
    from autoskillit_trace.timeutil import parse_since

    return parse_since(text)


DURATION = _Parsed("DURATION", _parse_duration)
SIZE = _Parsed("SIZE", _parse_size)
WHEN = _Parsed("WHEN", _parse_since)


def _not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse ``--log-dir ''`` as ``run`` does: an empty value is never meant."""
    if value == "":
        typed = max(param.opts, key=len)
        raise click.UsageError(empty_value_problem(typed, param.metavar or "VALUE"), ctx)
    return value


def _a_session(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A session's name, never empty (often an unset shell variable)."""
    if value == "":
        raise click.BadParameter("the session is empty; expected its id or folder name")
    return value


def _complete_sessions(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Session ids and folder names from the index, for the shell's completion."""
    from autoskillit_trace.completion import index_of, session_names

    index = index_of(ctx.params.get("log_dir"))
    return session_names(index, incomplete) if index else []


def _complete_jobs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Job names from the index, for the shell's completion."""
    from autoskillit_trace.completion import index_of, job_names

    index = index_of(ctx.params.get("log_dir"))
    return job_names(index, incomplete) if index else []


_log_dir_option = click.option(
    "--log-dir",
    metavar="PATH",
    callback=_not_empty,
    help="Log root (default: from the settings, see 'config show').",
)


@cli.group("config")
def config_group() -> None:
    """Inspect the effective settings."""


def _setting_options(command: Any) -> Any:
    """The setting options of ``run`` (one table, see runopts), so their source shows."""
    for option in reversed([o for o in RUN_OPTIONS if o.config_key is not None]):
        command = click.option(
            *option.flags,
            option.dest,
            help=option.help,
            metavar=option.metavar,
            is_flag=option.metavar is None,
            default=None,
            callback=None if option.metavar is None else _not_empty,
        )(command)
    return command


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for machines.")
@_setting_options
def config_show(as_json: bool, **options: Any) -> int:
    """Print each setting, its value, where the value came from and what it is.

    \b
    Sources, lowest to highest: default < user file < project file
    < environment variable < command-line option.

    The setting options are run's: with them, this shows what
    'run' given the same options would use.
    """
    from autoskillit_trace.commands.config_show import run_config_show

    overrides: dict[str, tuple[str, object]] = {}
    for option in RUN_OPTIONS:
        value = options.get(option.dest)
        if option.config_key is not None and value not in (None, False):
            raw = option.flag_value if option.metavar is None else value
            overrides[option.config_key] = (option.flags[-1], raw)
    return run_config_show(as_json, overrides)


@cli.command("prune")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    metavar="N",
    help="Keep the newest N sessions (default: max_sessions from the settings).",
)
@click.option("--older-than", type=DURATION, help="Remove sessions started longer ago (30d, 12h).")
@click.option("--dry-run", is_flag=True, help="Say what would go; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="A JSON report on stdout.")
@_log_dir_option
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    help="The log line on stderr: console, json, or auto (console on a terminal).",
)
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
def prune_command(
    keep: int | None,
    older_than: float | None,
    dry_run: bool,
    as_json: bool,
    log_dir: str | None,
    log_format: str,
    quiet: bool,
) -> int:
    """Finalize crashed sessions and remove old ones (for cron and CI).

    A session goes when either limit says so; a running session never does.
    Quiet unless asked: exit 0, and one log line on stderr when something was done.
    """
    from autoskillit_trace.commands.prune import PruneArgs, run_prune

    return run_prune(PruneArgs(keep, older_than, dry_run, as_json, log_dir, log_format, quiet))


@cli.command("ls")
@click.option("--failed", is_flag=True, help="Only sessions that did not succeed.")
@click.option("--anomalies", is_flag=True, help="Only sessions with anomalies.")
@click.option(
    "--since",
    type=WHEN,
    help="Only sessions started within this time (12h, 7d) or since this date or time "
    "(2026-11-29, 2026-11-29T10:00, 2026-11-29T10:00+02:00; UTC unless it has an offset).",
)
@click.option("--command", metavar="TEXT", help="Only sessions whose command contains TEXT.")
@click.option("--min-rss", type=SIZE, help="Only sessions whose peak RSS exceeds SIZE (1G, 500M).")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    metavar="N",
    help="At most N sessions (default 20 on a terminal, all otherwise; 0: all).",
)
@click.option(
    "--job",
    metavar="NAME",
    callback=_not_empty,
    shell_complete=_complete_jobs,
    help="Only the runs of this job (its key, as 'ls --json' shows it).",
)
@click.option(
    "--trend",
    is_flag=True,
    help="With --job: the job's duration, memory and CPU over its runs (as 'trend NAME').",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines (index records) on stdout.")
@_log_dir_option
def ls_command(
    failed: bool,
    anomalies: bool,
    since: float | None,
    command: str | None,
    min_rss: float | None,
    job: str | None,
    trend: bool,
    limit: int | None,
    as_json: bool,
    log_dir: str | None,
) -> int:
    """List sessions from the index, newest first.

    Newest means most recently recorded: the index is read from its end, so
    the newest few cost the same whatever the length of the history.
    """
    from autoskillit_trace.commands.ls import LsArgs, run_ls
    from autoskillit_trace.selection import SessionFilter

    if trend:
        if job is None:
            raise click.UsageError("--trend needs --job NAME")
        if failed or anomalies or since is not None or command is not None or min_rss is not None:
            raise click.UsageError(
                "--trend shows every run of the job; it takes no --failed, --anomalies, "
                "--since, --command or --min-rss"
            )
        return _trend(job, limit, as_json, log_dir)
    keep = SessionFilter(
        failed=failed,
        anomalies=anomalies,
        since=since,
        command=command,
        min_rss_kb=min_rss,
        job=job,
    )
    return run_ls(LsArgs(keep, limit, as_json, log_dir))


def _plot_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from pathlib import Path

    from autoskillit_trace.plot import FORMATS

    path = Path(value)
    if path.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{value!r} must end in {' or '.join(FORMATS)}", ctx, param)
    return path


def _html_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """``show --html FILE``: a file whose folder exists and takes it."""
    from pathlib import Path

    from autoskillit_trace.commands.report import html_file_problem

    if value is None:
        return None
    if value == "":
        raise click.BadParameter("the value is empty; expected FILE", ctx, param)
    problem = html_file_problem(Path(value))
    if problem is not None:
        raise click.BadParameter(problem, ctx, param)
    return Path(value)


@cli.command("show")
@click.argument("session", callback=_a_session, shell_complete=_complete_sessions)
@click.option("--json", "as_json", is_flag=True, help="The summary and anomalies as JSON.")
@click.option(
    "--markdown",
    is_flag=True,
    help="A short Markdown report (the one written to $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--plot",
    metavar="FILE",
    callback=_plot_path,
    help="Draw RSS, CPU and open files to FILE (.png or .svg); needs the [plot] extra.",
)
@click.option(
    "--html",
    metavar="FILE",
    callback=_html_path,
    help="Write a self-contained HTML report (charts, anomalies, the agent's timeline) to FILE.",
)
@click.option(
    "--processes",
    is_flag=True,
    help="Every process of the session as a tree (by parent), with its peaks, oldest first.",
)
@_log_dir_option
def show_command(
    session: str,
    as_json: bool,
    markdown: bool,
    plot: Any,
    html: Any,
    processes: bool,
    log_dir: str | None,
) -> int:
    """Show one session: summary, anomalies, and charts over its time.

    SESSION is a session id, a folder name, or a unique prefix of either
    (underscores are read as hyphens), or the agent's session id of an
    --agent-events session (the newest, when several recorded it).
    """
    if html is not None:
        if as_json or markdown or processes or plot is not None:
            raise click.UsageError(
                "--html goes alone, without --json, --markdown, --processes or --plot"
            )
        from autoskillit_trace.commands.report import ShowHtmlArgs, run_show_html

        return run_show_html(ShowHtmlArgs(session, html, log_dir))
    if as_json + markdown + processes > 1:
        raise click.UsageError(
            "--json, --markdown and --processes each choose the output; give one"
        )
    from autoskillit_trace.commands.show import ShowArgs, run_show

    return run_show(ShowArgs(session, as_json, plot, log_dir, markdown, processes))


def _out_dir(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    """``report --out DIR``: created if need be, and writable."""
    from pathlib import Path

    from autoskillit_trace.commands.report import out_dir_problem

    problem = out_dir_problem(Path(value)) if value else "an empty value is not a folder"
    if problem is not None:
        raise click.BadParameter(problem, ctx, param)
    return Path(value)


@cli.command("report")
@click.option(
    "--out",
    metavar="DIR",
    required=True,
    callback=_out_dir,
    help="Folder of the site: index.html and one page per session (created if absent).",
)
@_log_dir_option
def report_command(out: Any, log_dir: str | None) -> int:
    """Write a static HTML site of the store: an index, newest first, and a report per session.

    Re-running it rewrites only the pages of sessions that changed since, and
    removes those of sessions no longer in the store.
    """
    from autoskillit_trace.commands.report import ReportArgs, run_report

    return run_report(ReportArgs(out, log_dir))


@cli.command("compare")
@click.argument("a", metavar="SESSION_A", callback=_a_session, shell_complete=_complete_sessions)
@click.argument(
    "b",
    metavar="[SESSION_B]",
    required=False,
    callback=_a_session,
    shell_complete=_complete_sessions,
)
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON.")
@_log_dir_option
def compare_command(a: str, b: str | None, as_json: bool, log_dir: str | None) -> int:
    """Two sessions side by side: outcome, duration, peaks, CPU, anomalies by kind,
    and the processes whose memory or CPU changed most.

    Without SESSION_B, SESSION_A is compared with the median of its job's
    latest successful runs (shown as A). Sessions are named as for 'show'.
    """
    from autoskillit_trace.commands.compare import CompareArgs, run_compare

    return run_compare(CompareArgs(a, b, as_json, log_dir))


def _a_job(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value:
        raise click.BadParameter("the job is empty; expected a job's key (see 'ls --json')")
    return value


@cli.command("trend")
@click.argument("job", metavar="JOB", callback=_a_job, shell_complete=_complete_jobs)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    metavar="N",
    help="The newest N runs (default 50; 0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="The trend as JSON.")
@_log_dir_option
def trend_command(job: str, limit: int | None, as_json: bool, log_dir: str | None) -> int:
    """A job's duration, peak memory and CPU over its runs, as sparklines, with the
    latest run against the median and the runs flagged as regressions marked.

    JOB is the job's key, as 'ls --json' shows it ('--job' of 'run').
    """
    return _trend(job, limit, as_json, log_dir)


def _trend(job: str, limit: int | None, as_json: bool, log_dir: str | None) -> int:
    from autoskillit_trace.commands.trend import TrendArgs, run_trend

    return run_trend(TrendArgs(job, 50 if limit is None else limit, as_json, log_dir))


def main(args: list[str]) -> int:
    """Run the click CLI; every error is one line on stderr, never a traceback."""
    from autoskillit_trace.config import ConfigError

    try:
        result = cli.main(args, prog_name=PROG, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command
        group = exc.ctx.command if exc.ctx else cli
        names = ", ".join(group.list_commands(exc.ctx)) if isinstance(group, click.Group) else ""
        path = exc.ctx.command_path if exc.ctx else PROG
        _error(f"missing command; expected one of {names} (see '{path} --help')")
        return 2
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _error(f"{exc.format_message()}{hint}")
        return 2
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except ConfigError as exc:
        _error(str(exc))
        return 2
    except click.exceptions.Abort:
        return 130
    except OSError as exc:  # an unreadable log root or file: one line, never a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        return 1
    return result if isinstance(result, int) else 0


def _error(message: str) -> None:
    from autoskillit_trace.commands.common import error

    error(message)
