"""The one reading of a number from a record."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from autoskillit_trace.schema import number


def test_bools_nan_and_infinities_are_no_numbers() -> None:
    assert number(True) is None and number(False) is None
    assert number(math.nan) is None
    assert number(math.inf) is None and number(-math.inf) is None
    assert number("3") is None and number(None) is None and number([1]) is None


@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_a_number_is_itself(value: float) -> None:
    assert number(value) == value and type(number(value)) is type(value)
