"""Entry point: ``run`` takes a fast path that never imports click.

Every other command, and ``run --help``, goes through the click CLI.
"""

from __future__ import annotations

import os
import sys

from autoskillit_trace.ctx import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from autoskillit_trace.supervisor import ChildExit


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
    """``run``, returning the wrapper's exit status (128+N for a death by signal N)."""
    return run_session(args).status


def run_session(args: list[str]) -> ChildExit:
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
            from autoskillit_trace.supervisor import ChildExit

            with suppress(OSError, ValueError, AttributeError):  # stderr closed (2>&-)
                sys.stderr.write(f"autoskillit-trace run: error: {exc}\n")
            return ChildExit(2, None)
        from autoskillit_trace.session import run

        log = make_logger(parsed.log_format, parsed.quiet)
    finally:
        gc.freeze()
        gc.enable()
    return run(parsed, resolved, log, env)


def hold_closed_stdio() -> None:
    """Hold each closed standard descriptor with /dev/null, closed again at exec.

    With ``>&-`` the wrapper's first opened file would take descriptor 1, and
    the command would write into it.  Held with close-on-exec, the command
    still finds it closed, as it would bare.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)  # the lowest free descriptor: fd


def entry() -> None:
    """The program (console script, ``python -m``): ``main``, then exit with its status.

    ``run`` ends as the command did: by the same signal when it died of one
    (see ``supervisor.die_of``), else with its exit status.  It skips the
    interpreter's teardown with ``os._exit`` once stdout and stderr are
    flushed: everything else it writes goes through descriptors it has
    already closed, and the teardown would cost every run ~3 ms of CPU (10M
    instructions, measured with callgrind).
    """
    args = sys.argv[1:]
    if args and args[0] == "run":
        from autoskillit_trace.runopts import HelpRequested

        hold_closed_stdio()
        try:
            ending = run_session(args[1:])
        except HelpRequested:
            pass
        else:
            for stream in (sys.stdout, sys.stderr):
                with suppress(OSError, ValueError, AttributeError):  # closed: nothing to tell
                    stream.flush()
            signum = ending.death_signal
            if signum is not None:
                from autoskillit_trace.supervisor import die_of

                die_of(signum, ending.status)
            os._exit(ending.status)
    sys.exit(main(args))


if __name__ == "__main__":
    entry()
