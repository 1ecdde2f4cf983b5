"""Writing a session's page: read the folder, render, replace the file atomically."""

from __future__ import annotations

from pathlib import Path

from autoskillit_trace.export import write_readable
from autoskillit_trace.report.html import render
from autoskillit_trace.report.load import SessionView, load_session

REPORT = "report.html"  # the page ``run --html`` leaves in the session folder


def write_report(folder: Path, path: Path, back: str | None = None) -> SessionView:
    """The page of the session in ``folder``, written to ``path``; the view it showed."""
    view = load_session(folder)
    write_readable(path, render(view, back).encode("utf-8", "backslashreplace"))
    return view
