"""JSON lines: reading backwards gives exactly the forward lines, reversed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.jsonl import iter_lines_reversed, parse_line


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
