"""``suppress`` for the ``run`` path, without ``contextlib``.

Importing ``contextlib`` costs ~1 ms per start here, and ``run`` starts in
front of every CI step.  Commands that are not on that path may use
contextlib freely.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType


class suppress:  # named as the contextlib.suppress it stands in for
    """``with suppress(OSError): ...`` ignores those exceptions, as ``contextlib.suppress``."""

    __slots__ = ("_kinds",)

    def __init__(self, *kinds: type[BaseException]) -> None:
        self._kinds = kinds

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return kind is not None and issubclass(kind, self._kinds)
