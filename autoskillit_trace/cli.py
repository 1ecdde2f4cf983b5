"""Click commands only: parse, delegate, map errors to one line and an exit status."""

from __future__ import annotations

import sys
from typing import Any

import click

from autoskillit_trace import __version__
from autoskillit_trace.runopts import RUN_OPTIONS, USAGE

PROG = "autoskillit-trace"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name=PROG)
def cli() -> None:
    """Run a command as a supervised child and record its process-tree diagnostics.

    \b
    autoskillit-trace run -- make test
    autoskillit-trace config show
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
    from autoskillit_trace.__main__ import run_main

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


@cli.group("config")
def config_group() -> None:
    """Inspect the effective settings."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for machines.")
def config_show(as_json: bool) -> int:
    """Print each setting, its value, and where the value came from."""
    import json
    import os
    from pathlib import Path

    from autoskillit_trace.config import describe, load, log_root

    resolved = load(Path.cwd(), dict(os.environ))
    rows = describe(resolved)
    root = str(log_root(resolved.settings, dict(os.environ)))
    files = {
        "user_file": str(resolved.user_file),
        "project_file": str(resolved.project_file) if resolved.project_file else None,
    }
    if as_json:
        click.echo(json.dumps({"settings": rows, "log_root": root, **files}, indent=2))
        return 0
    width = max(len(str(row["key"])) for row in rows)
    for row in rows:
        value = json.dumps(row["value"])
        click.echo(f"{row['key']:<{width}}  {value:<12}  ({row['source']})")
    click.echo(f"{'log root':<{width}}  {root}")
    click.echo(f"{'user file':<{width}}  {files['user_file']}")
    click.echo(f"{'project file':<{width}}  {files['project_file'] or '(none found)'}")
    return 0


def main(args: list[str]) -> int:
    """Run the click CLI; every error is one line on stderr, never a traceback."""
    from autoskillit_trace.config import ConfigError

    try:
        result = cli.main(args, prog_name=PROG, standalone_mode=False)
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
    return result if isinstance(result, int) else 0


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
