"""``run --html``: the session's HTML report, ``report.html`` in its own folder.

Written after summary.json, so the page has the outcome; a CI job uploads
the folder as an artifact and opens the page in a browser.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from autoskillit_trace.export import Context


def where(context: Context) -> str:
    from autoskillit_trace.report.page import REPORT

    return os.path.join(context.folder, REPORT)


def send(context: Context) -> None:
    from autoskillit_trace.report.page import write_report

    write_report(Path(context.folder), Path(where(context)))
