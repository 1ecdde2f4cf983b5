"""One fold over a session's snapshots: peaks, detection, anomalies by kind.

The live session and crash recovery feed the same snapshots, in the same
order, through this one fold, so "detecting live equals detecting
afterwards" holds by construction.  Pure: no I/O, constant memory.
"""

from __future__ import annotations

from autoskillit_trace.summary import Outcome, Peaks, build_summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from autoskillit_trace.detect import Anomaly, Detector


class Fold:
    """Feed it snapshots in order; it keeps the peaks and counts the anomalies by kind."""

    __slots__ = ("_detector", "command_line", "kinds", "peaks")

    def __init__(self, command_line: str | None = None) -> None:
        self.command_line = command_line  # the command's, as recorded: anomalies name it
        self.peaks = Peaks()
        self.kinds: dict[str, int] = {}  # anomaly kind -> count
        self._detector: Detector | None = None  # made at the first snapshot: none, no import

    def feed(self, snapshot: dict[str, Any]) -> list[Anomaly]:
        """Fold one snapshot in; the anomalies it opens."""
        if self._detector is None:
            from autoskillit_trace.detect import Detector

            self._detector = Detector(command_line=self.command_line)
        self.peaks.feed(snapshot)
        found = self._detector.feed(snapshot)
        for anomaly in found:
            self.kinds[anomaly.kind] = self.kinds.get(anomaly.kind, 0) + 1
        return found

    def summary(self, header: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
        """The summary record of the session so far, ended by ``outcome``."""
        return build_summary(header, self.peaks, outcome, dict(self.kinds))
