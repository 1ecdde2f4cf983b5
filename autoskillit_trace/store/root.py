"""A log root and what is done with it: each operation is its module's, this is the front."""

from __future__ import annotations

from autoskillit_trace.store import orphans, publish, retention
from autoskillit_trace.store.layout import Layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath


class LogRoot(Layout):
    """One log root: its layout, and publishing, recovery and retention on it."""

    def publish(self, folder: StrPath, summary: dict[str, Any]) -> None:
        """See ``publish.publish``."""
        publish.publish(self, folder, summary)

    def orphans(self) -> list[str]:
        """See ``orphans.orphans``."""
        return orphans.orphans(self)

    def recover_orphans(self, marked_only: bool = False) -> list[str]:
        """See ``orphans.recover_orphans``."""
        return orphans.recover_orphans(self, marked_only)

    def prune(
        self,
        keep: int | None,
        older_than_s: float | None = None,
        dry_run: bool = False,
        now: float | None = None,
        slack: int = 0,
    ) -> retention.PruneReport:
        """See ``retention.prune``."""
        return retention.prune(self, keep, older_than_s, dry_run, now, slack)
