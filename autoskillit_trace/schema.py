"""What the records hold: the one reading of a number from a JSON value.

Records are read back from files that a crash may have cut and a user may
have edited, so every reader takes a field as a number only when it is one:
JSON's ``true`` is not 1, and NaN is no figure.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def number(value: Any) -> int | float | None:
    """``value`` if it is an int or a float that is not NaN (bools excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return value
