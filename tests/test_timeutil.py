from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoskillit_trace.timeutil import (
    CaptureClock,
    compact_utc,
    iso_utc,
    parse_duration,
    parse_iso,
    parse_since,
    whole_seconds,
)


def test_iso_utc_round_trips() -> None:
    text = iso_utc(1_763_808_000_123_456)
    assert text == "2025-11-22T10:40:00.123456+00:00"
    assert parse_iso(text) == pytest.approx(1_763_808_000.123456)
    assert compact_utc(1_763_808_000_123_456) == "20251122T104000Z"
    assert whole_seconds(text) == "2025-11-22T10:40:00"
    assert whole_seconds(text, " ") == "2025-11-22 10:40:00"
    assert whole_seconds("2025-11-22") is None and whole_seconds(None) is None


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


DAY = 1_796_083_200.0  # 2026-12-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12h", DAY - 43_200),  # a duration: that long before now
        ("0", DAY),
        ("2026-12-01", DAY),  # a date: its start, in UTC
        ("2026-12-01T10:00", DAY + 36_000),
        ("2026-12-01 10:00:30", DAY + 36_030),
        ("2026-12-01T10:00:00Z", DAY + 36_000),
        ("2026-12-01T10:00:00z", DAY + 36_000),
        ("2026-12-01T10:00:00+02:00", DAY + 28_800),
        ("2026-12-01T10:00:00.5-01:00", DAY + 39_600.5),
        (" 2026-12-01 ", DAY),
    ],
)
def test_parse_since(text: str, seconds: float) -> None:
    assert parse_since(text, now=DAY) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "2026-12-01T25:00", "", "-1h"])
def test_parse_since_rejects_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is neither a duration \(12h, 7d\) nor a date or time"):
        parse_since(bad, now=DAY)


def test_parse_iso_reads_a_time_without_offset_as_utc() -> None:
    assert parse_iso("2026-12-01T00:00:00") == DAY
    assert parse_iso("0001-01-01T00:00:00+01:00") is not None  # before the epoch, still a time
    assert parse_iso("not a time") is None
