"""What the store commands share: the settings, the log root, and writing to stdout."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from autoskillit_trace.config import Resolved, current_dir, load, log_root
from autoskillit_trace.store.root import LogRoot
from autoskillit_trace.textfmt import undecoded_as_hex

PROG = "autoskillit-trace"


def settings_and_root(log_dir: str | None) -> tuple[Resolved, LogRoot]:
    """The effective settings (``--log-dir`` overriding) and the log root they name.

    Raises ConfigError, shown by the CLI as one line with exit status 2.
    """
    env = dict(os.environ)
    overrides = {} if log_dir is None else {"linux_tracing.log_dir": ("--log-dir", log_dir)}
    resolved = load(current_dir(), env, overrides)
    return resolved, LogRoot(log_root(resolved.settings, env))


def write_lines(lines: Iterable[str]) -> None:
    """Print lines; a reader that went away (``| head``) ends the output quietly."""
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Keep Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {undecoded_as_hex(message)}\n")


def error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {undecoded_as_hex(message)}\n")


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns
