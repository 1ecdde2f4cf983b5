"""JSON lines: one self-contained object per line, tolerant of cut and broken lines."""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from typing import Any, BinaryIO

    from _typeshed import StrPath


def _line_encoder() -> Callable[[dict[str, Any]], str]:
    """``json.dumps(record, separators=(",", ":"), default=str)``, set up once.

    With any non-default argument, ``json.dumps`` builds a JSONEncoder and its
    C encoder at every call; a line per snapshot makes building them once
    worth it (~17 us of CPU a line after the sampler's sleep).  The C encoder
    is used as ``JSONEncoder.iterencode`` does, without the circular check
    (records are trees of plain values).
    """
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # no _json accelerator (another Python)
        return json.JSONEncoder(separators=(",", ":"), default=str).encode
    # markers, default, encoder, indent, key sep, item sep, sort_keys, skipkeys, allow_nan
    encode = make(None, str, encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda record: "".join(encode(record, 0))


_encode_line = _line_encoder()


def dumps_line(record: dict[str, Any]) -> bytes:
    """One compact JSON line; non-UTF-8 text is escaped so the line stays valid."""
    return (_encode_line(record) + "\n").encode("utf-8", "backslashreplace")


def parse_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Objects of the whole lines in ``data`` and the number of lines skipped.

    A line that is not a JSON object (a last line cut by a crash, garbage) is
    skipped, never fatal.
    """
    records: list[dict[str, Any]] = []
    skipped = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            skipped += 1
    return records, skipped


def iter_file(path: StrPath, chunk: int = 1 << 20) -> Iterator[dict[str, Any] | None]:
    """Objects of a JSONL file read in chunks; ``None`` marks a skipped line."""
    with open(path, "rb") as handle:
        rest = b""
        while True:
            block = handle.read(chunk)
            if not block:
                break
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield from _one(line)
        yield from _one(rest)


def _one(line: bytes) -> Iterator[dict[str, Any] | None]:
    if line.strip():
        yield parse_line(line)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may stop short on a nearly full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def iter_lines_reversed(path: StrPath, block: int = 1 << 16) -> Generator[bytes, None, None]:
    """The non-empty lines of a file, last first, read in blocks from its end.

    Reading the newest N lines costs about N lines of I/O, whatever the file's
    length.  A last line without its newline (being written, or cut) is
    yielded like the others; callers parse and may skip it.  The file is
    opened at once (FileNotFoundError here, not on the first line) and closed
    when the generator is exhausted or closed.
    """
    return _reversed_lines(open(path, "rb"), block)


def _reversed_lines(handle: BinaryIO, block: int) -> Generator[bytes, None, None]:
    with handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(block, position)
            position -= step
            handle.seek(position)
            lines = (handle.read(step) + rest).split(b"\n")
            rest = lines.pop(0)  # may continue in the block before
            for line in reversed(lines):
                if line.strip():
                    yield line
        if rest.strip():
            yield rest


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The JSON object on one line, or None when it is not one (cut, garbage)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
