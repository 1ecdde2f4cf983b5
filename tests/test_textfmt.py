"""Text for people: sizes, durations, tables, sparklines."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoskillit_trace.textfmt import (
    SPARK,
    buckets,
    downsample,
    human_bytes,
    human_duration,
    human_kb,
    marker_line,
    parse_size_kb,
    render_table,
    shorten,
    sparkline,
    undecoded_as_hex,
)


@pytest.mark.parametrize(
    ("count", "text"),
    [(None, "-"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 << 30, "3.0 GiB")],
)
def test_human_bytes(count: int | None, text: str) -> None:
    assert human_bytes(count) == text


def test_human_kb() -> None:
    assert human_kb(44424) == "43.4 MiB" and human_kb(None) == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (-1, "-"), (0.04, "0.0s"), (12.34, "12.3s"), (185, "3m05s"), (7300, "2h01m")],
)
def test_human_duration(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "kb"),
    [
        ("1000000", 1e6),
        ("800K", 800),
        ("500M", 512000),
        ("1.5G", 1.5 * 1024**2),
        ("2GiB", 2 * 1024**2),
    ],
)
def test_parse_size(text: str, kb: float) -> None:
    assert parse_size_kb(text) == kb


@pytest.mark.parametrize("text", ["", "G", "1.2.3M", "-5M", "12X"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size; expected"):
        parse_size_kb(text)


def test_sparkline_shape() -> None:
    assert sparkline([0, 7, 14]) == SPARK[0] + SPARK[4] + SPARK[-1]
    assert sparkline([5, 5, 5]) == SPARK[0] * 3
    assert sparkline([1, None, 3]) == SPARK[0] + " " + SPARK[-1]
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""


def test_sparkline_keeps_a_spike_when_downsampling() -> None:
    values = [1.0] * 1000
    values[500] = 100.0
    line = sparkline(values, 20)
    assert len(line) == 20 and line.count(SPARK[-1]) == 1


@given(st.integers(0, 500), st.integers(0, 100))
def test_buckets_cover_every_point_once(count: int, width: int) -> None:
    spans = buckets(count, width)
    covered = [i for span in spans for i in span]
    assert covered == (list(range(count)) if width else [])
    assert len(spans) == min(count, width)


@given(st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), max_size=300), st.integers(1, 80))
def test_downsample_keeps_the_maximum(values: list[float | None], width: int) -> None:
    points = downsample(values, width)
    assert len(points) == min(len(values), width)
    known = [v for v in values if v is not None]
    assert max((p for p in points if p is not None), default=None) == max(known, default=None)
    assert len(sparkline(values, width)) == len(points)


def test_marker_line() -> None:
    assert marker_line([0, 99], 100, 10) == "^        ^"
    assert marker_line([], 100, 10) == ""


def test_table_aligns_and_cuts_the_last_column() -> None:
    lines = render_table(
        ["NAME", "N", "COMMAND"],
        [["a", "10", "x" * 50], ["bbb", "2", "y"]],
        [False, True, False],
        30,
    )
    assert lines[0] == "NAME   N  COMMAND"
    assert lines[1].startswith("a     10  xxx") and lines[1].endswith("…") and len(lines[1]) == 30
    assert lines[2] == "bbb    2  y"
    assert shorten("abc", 0) == ""


def test_bytes_that_were_not_utf8_are_shown_as_hex() -> None:
    given = os.fsdecode(b"job-\xff\x80")  # as Python hands over such an argument
    assert undecoded_as_hex(f"no job {given!r}") == "no job 'job-\\xff\\x80'"
    assert undecoded_as_hex(repr("caf\u00e9 \\udcff")) == repr("caf\u00e9 \\udcff")  # text
