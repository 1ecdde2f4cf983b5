from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoskillit_trace.timeutil import CaptureClock, compact_utc, iso_utc, parse_duration, parse_iso


def test_iso_utc_round_trips() -> None:
    text = iso_utc(1_763_808_000_123_456)
    assert text == "2025-11-22T10:40:00.123456+00:00"
    assert parse_iso(text) == pytest.approx(1_763_808_000.123456)
    assert compact_utc(1_763_808_000_123_456) == "20251122T104000Z"


@given(st.integers(min_value=0, max_value=253_402_300_799_999_999))  # up to 9999-12-31
def test_iso_utc_agrees_with_the_c_library(micros: int) -> None:
    seconds, fraction = divmod(micros, 1_000_000)
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:06d}+00:00"
    assert iso_utc(micros) == expected


@given(st.lists(st.integers(min_value=0, max_value=253_402_300_799_999_999), max_size=20))
def test_capture_clock_text_agrees_with_iso_utc_across_days(series: list[int]) -> None:
    clock = CaptureClock()  # one clock: its cached date must follow every change of day
    for micros in [*series, *sorted(series), 86_399_999_999, 86_400_000_000]:
        assert clock.iso(micros) == iso_utc(micros)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1970-01-01T00:00:00.000000+00:00", 0),
        ("2000-02-29T23:59:59.999999+00:00", 951_868_799_999_999),  # a leap day of a 400th year
        ("2100-03-01T00:00:00.000000+00:00", 4_107_542_400_000_000),  # 2100 is not a leap year
    ],
)
def test_iso_utc_calendar_edges(text: str, micros: int) -> None:
    assert iso_utc(micros) == text


def test_capture_clock_is_strictly_increasing() -> None:
    clock = CaptureClock()
    clock._last = 10**18  # as if the wall clock had just stepped far back
    stamps = [clock.now()[0] for _ in range(100)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 100


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30),
        ("1.5s", 1.5),
        ("10m", 600),
        ("12h", 43200),
        ("30d", 2_592_000),
        ("2w", 1_209_600),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "abc", "10x", "-5", "inf", "nan", "1e400"])
def test_parse_duration_rejects_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
