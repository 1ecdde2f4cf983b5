"""JSON lines: any bytes read back safely; reading backwards gives the forward lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autoskillit_trace
from autoskillit_trace.jsonl import (
    _loads,
    dumps_line,
    dumps_pretty,
    iter_file,
    iter_lines_holding,
    iter_lines_reversed,
    make_encoder,
    parse_line,
    parse_lines,
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    trailing_newline=st.booleans(),
    block=st.integers(1, 64),
)
def test_reversed_equals_forward_reversed(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], trailing_newline: bool, block: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path_factory.mktemp("rev") / "f.jsonl"
    path.write_bytes(data)
    expected = [line for line in data.split(b"\n") if line.strip()][::-1]
    assert list(iter_lines_reversed(path, block)) == expected


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.lists(st.sampled_from([b"ab", b"a", b"b", b"x", b" ", b"\xff"]), max_size=8).map(
            b"".join
        ),
        max_size=30,
    ),
    trailing_newline=st.booleans(),
    needle=st.sampled_from([b"ab", b"a", b"ba", b"abab"]),
)
def test_lines_holding_equal_the_reversed_lines_that_hold_the_needle(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    trailing_newline: bool,
    needle: bytes,
) -> None:
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path_factory.mktemp("hold") / "f.jsonl"
    path.write_bytes(data)
    expected = [line for line in data.split(b"\n") if needle in line][::-1]
    assert list(iter_lines_holding(path, needle)) == expected


def test_missing_file_raises_at_once(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        iter_lines_reversed(tmp_path / "absent.jsonl")


def test_reading_the_newest_lines_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"n":1}\n' * 200_000)
    lines = iter_lines_reversed(path, block=4096)
    first = [next(lines) for _ in range(3)]
    assert first == [b'{"n":1}'] * 3
    lines.close()


@pytest.mark.parametrize(
    ("line", "expected"),
    [(b'{"a":1}', {"a": 1}), (b'{"a":', None), (b"[1]", None), (b"\xff", None), (b"", None)],
)
def test_parse_line(line: bytes, expected: object) -> None:
    assert parse_line(line) == expected


# -- any bytes, any cut ----------------------------------------------------------

FAST = settings(max_examples=150, deadline=None)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
RECORDS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5)
# What the encoders must write as json.dumps does: NaN and infinities, tuples, any text.
ENCODABLE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# Bytes that look like JSON lines often enough to matter.
PIECES = st.sampled_from([b"{", b"}", b'"a":', b"1", b",", b"\n", b"[", b"]", b"\xff", b" ", b"\r"])
NEAR_JSON = st.lists(PIECES | st.binary(max_size=4), max_size=40).map(b"".join)
ANY_BYTES = st.binary(max_size=300) | NEAR_JSON


def _nonblank_lines(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if line.strip())


@FAST
@given(ANY_BYTES)
def test_parse_lines_takes_any_bytes(data: bytes) -> None:
    records, skipped = parse_lines(data)
    assert all(isinstance(r, dict) for r in records)
    assert len(records) + skipped == _nonblank_lines(data)


@FAST
@given(ANY_BYTES, st.integers(1, 64))
def test_iter_file_agrees_with_parse_lines_whatever_the_chunk(
    tmp_path_factory: Any, data: bytes, chunk: int
) -> None:
    path = Path(tmp_path_factory.mktemp("jsonl")) / "x.jsonl"
    path.write_bytes(data)
    read = list(iter_file(path, chunk=chunk))
    records, skipped = parse_lines(data)
    assert [r for r in read if r is not None] == records
    assert read.count(None) == skipped


@FAST
@given(st.lists(RECORDS, max_size=8), st.data())
def test_a_cut_keeps_every_whole_line(records: list[dict[str, Any]], data: st.DataObject) -> None:
    blob = b"".join(dumps_line(r) for r in records)
    cut = data.draw(st.integers(0, len(blob)))
    parsed, skipped = parse_lines(blob[:cut])
    whole = blob[:cut].count(b"\n")
    expected = [json.loads(line) for line in blob[:cut].split(b"\n")[:whole]]
    assert parsed[:whole] == expected
    # At most the cut line is lost; a cut that happens to be valid JSON is kept.
    assert len(parsed) - whole + skipped <= 1


@FAST
@given(RECORDS)
def test_dumps_line_is_one_line_that_reads_back(record: dict[str, Any]) -> None:
    line = dumps_line(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_lines(line) == ([record], 0)


@FAST
@given(st.text().map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_undecodable_text_is_escaped_not_fatal(raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    records, skipped = parse_lines(dumps_line({"cmd": text}))
    assert skipped == 0 and len(records) == 1


@FAST
@given(st.dictionaries(st.text(), ENCODABLE))
def test_dumps_line_writes_what_json_dumps_writes(record: dict[str, Any]) -> None:
    """The encoder built once is json.dumps with the line's arguments (NaN included)."""
    record["other"] = Path("/x")  # not JSON: written as its str(), as default=str says
    expected = json.dumps(record, separators=(",", ":"), default=str) + "\n"
    assert dumps_line(record) == expected.encode("utf-8", "backslashreplace")


@FAST
@given(ENCODABLE)
def test_dumps_pretty_writes_what_json_dumps_indented_writes(value: Any) -> None:
    """summary.json's layout, without importing json: any nesting, empty ones, NaN."""
    assert dumps_pretty(value) == json.dumps(value, indent=2, default=str)
    assert dumps_pretty({"at": Path("/x"), "v": [value]}) == json.dumps(
        {"at": Path("/x"), "v": [value]}, indent=2, default=str
    )


@pytest.mark.parametrize("value", [{1: "a"}, {"a": {None: [1.5, {True: 2}]}}, {2.5: []}])
def test_dumps_pretty_of_keys_that_are_not_strings(value: Any) -> None:
    assert dumps_pretty(value) == json.dumps(value, indent=2, default=str)


@FAST
@given(st.dictionaries(st.text(max_size=6), ENCODABLE, max_size=4))
def test_log_encoder_writes_what_json_dumps_writes(event: dict[str, Any]) -> None:
    expected = json.dumps(event, default=str, separators=(", ", ": "))
    assert make_encoder(", ", ": ")(event) == expected


# -- reading without the json module ---------------------------------------------


def _json_loads_or_error(data: bytes | str) -> tuple[str, object]:
    try:
        return "value", json.loads(data)
    except ValueError:
        return "error", None


@settings(max_examples=400, deadline=None)
@given(ANY_BYTES | ENCODABLE.map(lambda v: json.dumps(v).encode()) | st.text(max_size=40))
def test_reading_without_json_agrees_with_json_loads(data: bytes | str) -> None:
    """The C scanner alone reads what json.loads reads, and refuses what it refuses
    (NaN compared as its text: it equals nothing)."""
    try:
        got: tuple[str, object] = ("value", _loads(data))
    except ValueError:
        got = ("error", None)
    expected = _json_loads_or_error(data)
    assert got[0] == expected[0]
    assert json.dumps(got[1]) == json.dumps(expected[1])


def test_reading_a_line_imports_no_json_module(tmp_path: Path) -> None:
    """``run`` reads the index at every start once its job has past runs: no ``re``."""
    code = (
        "import sys\n"
        "from autoskillit_trace.jsonl import parse_line, parse_lines\n"
        'ok = parse_line(b\' {"a": [1, 2.5, NaN, "\\\\u00e9"]} \') is not None\n'
        "ok = ok and parse_lines(b'{}\\n\\n[]\\n{\"b\": null}')[1] == 1\n"
        "loaded = sorted({'json', 're'} & set(sys.modules))\n"
        "cut = [parse_line(b'{\"a\"'), parse_line(b'{\"a\": 1} x'), parse_line(b' ')]\n"
        'print(ok, loaded, cut, parse_lines(b\'{"b": 1}\\n{"a": [\')[1])\n'
    )
    package = Path(autoskillit_trace.__file__).resolve().parents[1]  # wherever it is installed
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(package)})  # fmt: skip
    assert proc.stdout.split("\n")[0] == "True [] [None, None, None] 1", proc.stderr
