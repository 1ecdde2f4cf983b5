"""``run``: parse its options, load the settings, run the command traced.

Its own parser (see runopts) and no click: ``run`` starts in front of every
CI step.  The other commands are click commands in cli.py.
"""

from __future__ import annotations

import os
import sys

from autoskillit_trace.ctx import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from autoskillit_trace.supervisor import ChildExit


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
