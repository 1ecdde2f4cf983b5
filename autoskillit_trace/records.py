"""Plain records for the ``run`` path.

``dataclasses`` costs ~12 ms per start here: importing it pulls in ``inspect``,
and every decorated class compiles generated code at import.  ``run`` starts in
front of every CI step, so its records are ordinary classes with ``__slots__``
and an explicit ``__init__``; this base gives them equality and a repr from
their slots.  Commands that are not on that path may use dataclasses freely.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from typing_extensions import Self


class Record:
    """Equality and repr from ``__slots__``; subclasses list their fields there.

    Defining ``__eq__`` makes instances unhashable, as mutable dataclasses are.
    """

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, as ``dataclasses.replace``."""
        new = object.__new__(type(self))
        for name in self.__slots__:
            setattr(new, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(changes)}")
        return new

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({shown})"
