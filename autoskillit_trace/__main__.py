"""Entry point: ``run`` takes a fast path that never imports click.

Every other command, and ``run --help``, goes through the click CLI.
"""

from __future__ import annotations

import os
import sys

from autoskillit_trace.ctx import suppress


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "run":
        from autoskillit_trace.commands.run import run_main
        from autoskillit_trace.runopts import HelpRequested

        try:
            return run_main(args[1:])
        except HelpRequested:
            pass
    from autoskillit_trace.cli import main as cli_main

    return cli_main(args)


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
        from autoskillit_trace.commands.run import hold_closed_stdio, run_session
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
