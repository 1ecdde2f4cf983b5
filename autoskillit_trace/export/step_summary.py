"""GitHub's job summary page: the Markdown report appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from autoskillit_trace.export import Context

VARIABLE = "GITHUB_STEP_SUMMARY"


def where(context: Context) -> str:
    return f"${VARIABLE}"


def send(context: Context) -> None:
    append_step_summary(context.env[VARIABLE], context.markdown)


def append_step_summary(path: str, markdown: str) -> None:
    """Append to $GITHUB_STEP_SUMMARY in one write, as GitHub expects of each step."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, markdown.encode())
    finally:
        os.close(fd)
