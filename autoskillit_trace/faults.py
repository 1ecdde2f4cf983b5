"""Tracing faults: the first is one warning, the rest are counted silently.

A fault in tracing never reaches the command: writers catch OSError, tell a
``Faults``, and go on.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Faults:
    """Reports tracing faults: the first as one warning, the rest silently."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self.count = 0

    def report(self, what: str, exc: BaseException | str) -> None:
        self.count += 1
        if self.count == 1:
            reason = exc if isinstance(exc, str) else getattr(exc, "strerror", None) or str(exc)
            self._warn(f"{what}: {reason}; the command goes on")
