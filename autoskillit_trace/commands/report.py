"""``show SESSION --html FILE`` and ``report --out DIR``: HTML reports of a session, a store."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from autoskillit_trace.commands.common import error, settings_and_root
from autoskillit_trace.commands.show import find_session, not_found_message
from autoskillit_trace.ctx import suppress


def html_file_problem(path: Path) -> str | None:
    """Why ``show --html`` cannot write ``path``, before any work; None when it can."""
    if path.is_dir():
        return f"{str(path)!r} is a folder; give a file name such as report.html"
    parent = path.parent
    if not parent.is_dir():
        return f"{str(path)!r}: folder {str(parent)!r} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{str(path)!r}: folder {str(parent)!r} is not writable"
    return None


def out_dir_problem(path: Path) -> str | None:
    """Why ``report --out`` cannot use ``path`` (creating it if need be); None when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"{str(path)!r} is a file; give a folder for the site"
    except OSError as exc:
        return f"{str(path)!r} cannot be created: {exc.strerror or exc}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{str(path)!r} is not writable"
    return None


@dataclass(frozen=True)
class ShowHtmlArgs:
    session: str
    path: Path
    log_dir: str | None = None


def run_show_html(args: ShowHtmlArgs) -> int:
    """Write one session's report; an unknown session is exit 1, as for ``show``."""
    from autoskillit_trace.report.page import write_report

    _, root = settings_and_root(args.log_dir)
    resolution = find_session(root, args.session)
    if resolution.match is None:
        error(not_found_message(args.session, resolution.candidates, root.sessions))
        return 1
    try:
        write_report(Path(root.sessions, resolution.match.dir_name), args.path)
    except OSError as exc:
        error(f"cannot write {args.path}: {exc.strerror or exc}")
        return 1
    sys.stderr.write(f"report written to {args.path}\n")
    return 0


@dataclass(frozen=True)
class ReportArgs:
    out: Path
    log_dir: str | None = None


def in_store_problem(out: Path, root: str) -> str | None:
    """Why the site cannot go to ``out``: inside the log store, its pages would sit among
    the session folders (and its clean-up remove what is not its own); None when outside."""
    where, store = os.path.realpath(out), os.path.realpath(root)
    if where == store or where.startswith(store.rstrip(os.sep) + os.sep):
        return f"{str(out)!r} is inside the log store {root!r}; give a folder outside it"
    return None


def run_report(args: ReportArgs) -> int:
    """Build or refresh the site of the store in ``args.out`` (checked by ``out_dir_problem``)."""
    from autoskillit_trace.report.site import INDEX, build_site

    _, root = settings_and_root(args.log_dir)
    problem = in_store_problem(args.out, root.path)
    if problem is not None:
        with suppress(OSError):
            args.out.rmdir()  # when the check of --out created it, empty
        error(problem)
        return 2
    built = build_site(root.session_dirs(), args.out)
    total = built.written + built.kept
    sys.stderr.write(
        f"site of {total} sessions in {args.out / INDEX}: {built.written} pages written, "
        f"{built.kept} up to date, {built.removed} removed\n"
    )
    return 0
