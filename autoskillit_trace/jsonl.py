"""JSON lines: one self-contained object per line, tolerant of cut and broken lines."""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any


def dumps_line(record: dict[str, Any]) -> bytes:
    """One compact JSON line; non-UTF-8 text is escaped so the line stays valid."""
    return (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode(
        "utf-8", "backslashreplace"
    )


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


def iter_file(path: Path, chunk: int = 1 << 20) -> Iterator[dict[str, Any] | None]:
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
    if not line.strip():
        return
    try:
        value = json.loads(line)
    except ValueError:
        yield None
        return
    yield value if isinstance(value, dict) else None


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may stop short on a nearly full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
