"""Entry point: ``run`` takes a fast path that never imports click.

Every other command, and ``run --help``, goes through the click CLI.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "run":
        from autoskillit_trace.runopts import HelpRequested

        try:
            return run_main(args[1:])
        except HelpRequested:
            pass
    from autoskillit_trace.cli import main as cli_main

    return cli_main(args)


def run_main(args: list[str]) -> int:
    """Parse, load settings, run.  Usage and configuration errors: one line, exit 2.

    The garbage collector is off while the modules load: they allocate
    thousands of objects and no garbage, and its passes over them (a dozen
    in a start) cost ~0.8 ms.  What exists then is frozen out of later passes.
    """
    import gc

    gc.disable()
    try:
        from autoskillit_trace.config import ConfigError, current_dir, load
        from autoskillit_trace.log import make_logger
        from autoskillit_trace.runopts import UsageError, parse_run_args

        env = dict(os.environ)
        try:
            parsed = parse_run_args(args, env)
            resolved = load(current_dir(), env, parsed.overrides)
        except (UsageError, ConfigError) as exc:
            sys.stderr.write(f"autoskillit-trace run: error: {exc}\n")
            return 2
        from autoskillit_trace.session import run

        log = make_logger(parsed.log_format, parsed.quiet)
    finally:
        gc.freeze()
        gc.enable()
    return run(parsed, resolved, log, env)


def entry() -> None:
    """The program (console script, ``python -m``): ``main``, then exit with its status.

    ``run`` skips the interpreter's teardown with ``os._exit`` once stdout
    and stderr are flushed: everything else it writes goes through
    descriptors it has already closed, and the teardown would cost every
    run ~3 ms of CPU (10M instructions, measured with callgrind).
    """
    args = sys.argv[1:]
    status = main(args)
    if args and args[0] == "run":
        from autoskillit_trace.ctx import suppress

        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):  # a closed pipe: nothing more can be told
                stream.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
