"""What the shell completes: session names and job names, from the index.

Only the newest ``SCANNED`` index lines are read, so a completion stays quick
whatever the length of the history; a fault completes nothing, silently.
"""

from __future__ import annotations

from autoskillit_trace.selection import normalize
from autoskillit_trace.store.index import newest_records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCANNED = 2000  # newest index lines read for a completion


def session_names(index: str, incomplete: str, limit: int = SCANNED) -> list[str]:
    """Folder names and session ids that start with ``incomplete``, newest first."""
    wanted = normalize(incomplete)
    found: dict[str, None] = {}
    for record in _newest(index, limit):
        for field in ("dir_name", "session_id"):
            name = record.get(field)
            if isinstance(name, str) and normalize(name).startswith(wanted):
                found.setdefault(name)
    return list(found)


def job_names(index: str, incomplete: str, limit: int = SCANNED) -> list[str]:
    """The jobs that start with ``incomplete``, the most recently run first."""
    found: dict[str, None] = {}
    for record in _newest(index, limit):
        job = record.get("job")
        if isinstance(job, str) and job.startswith(incomplete):
            found.setdefault(job)
    return list(found)


def _newest(index: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` index records; none when the index cannot be read."""
    try:
        return newest_records(index, lambda r: True, limit)[0]
    except OSError:  # a folder, unreadable: nothing to complete, and nothing said
        return []


def index_of(log_dir: str | None) -> str | None:
    """The index the settings name (``--log-dir`` when typed already); None on a fault."""
    try:
        from autoskillit_trace.commands.common import settings_and_root

        return settings_and_root(log_dir)[1].index
    except Exception:  # a completion never prints an error into the command line
        return None
