"""What the records hold: the one reading of a number from a JSON value.

Records are read back from files that a crash may have cut and a user may
have edited, so every reader takes a field as a number only when it is one:
JSON's ``true`` is not 1, and NaN or Infinity is no figure.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_PLAIN = (int, float)  # the classes of a plain number: not bool, nor another subclass


def number(value: Any) -> int | float | None:
    """``value`` if it is an int or a finite float (bools excluded), else None.

    JSON readers take ``NaN``, ``Infinity`` and ``-Infinity``; in a record
    they are damage, unknown like any other.

    A plain int or float is told first, by its class: every snapshot's peaks
    take a dozen values through here.  ``value - value`` is 0 for every int and
    finite float, NaN for NaN and the infinities (no import of ``math``).
    """
    if value.__class__ in _PLAIN or (isinstance(value, _PLAIN) and not isinstance(value, bool)):
        return value if value - value == 0 else None
    return None
