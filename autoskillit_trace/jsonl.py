"""JSON lines: one self-contained object per line, tolerant of cut and broken lines.

Writing goes straight to the C accelerator ``_json``: importing ``json``
pulls in ``re`` (and with it ``enum``, ``functools``...), ~7 ms of CPU that
``run`` would pay at every start for encoders it can have without them.
Reading imports ``json`` when first needed.
"""

from __future__ import annotations

import os

from autoskillit_trace.fsutil import open_regular

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from typing import Any, BinaryIO

    from _typeshed import StrPath


def make_encoder(item_sep: str = ",", key_sep: str = ":") -> Callable[[Any], str]:
    """``json.dumps(value, separators=(item_sep, key_sep), default=str)``, set up once.

    With any non-default argument, ``json.dumps`` builds a JSONEncoder and its
    C encoder at every call; a line per snapshot makes building them once
    worth it (~17 us of CPU a line after the sampler's sleep).  The C encoder
    is used as ``JSONEncoder.iterencode`` does, without the circular check
    (records are trees of plain values).
    """
    try:
        from _json import encode_basestring_ascii
        from _json import make_encoder as c_make_encoder
    except ImportError:  # no accelerator (another Python): the json module's own
        import json

        return json.JSONEncoder(separators=(item_sep, key_sep), default=str).encode
    # markers, default, encoder, indent, key sep, item sep, sort_keys, skipkeys, allow_nan
    encode = c_make_encoder(
        None, str, encode_basestring_ascii, None, key_sep, item_sep, False, False, True
    )
    return lambda value: "".join(encode(value, 0))


_encode = make_encoder()


def dumps_line(record: dict[str, Any]) -> bytes:
    """One compact JSON line; non-UTF-8 text is escaped so the line stays valid."""
    return (_encode(record) + "\n").encode("utf-8", "backslashreplace")


class _OtherKey(Exception):
    """A mapping key that is not a string: left to the json module."""


def dumps_pretty(value: Any) -> str:
    """``json.dumps(value, indent=2, default=str)``, without importing ``json``.

    The nesting is laid out here; every leaf goes through the C encoder.
    """
    out: list[str] = []
    try:
        _pretty(value, "\n", out)
    except _OtherKey:
        import json

        return json.dumps(value, indent=2, default=str)
    return "".join(out)


def _pretty(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value`` laid out as at the depth whose line break (with indent) is ``newline``."""
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        sep = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise _OtherKey
            out.append(sep)
            out.append(_encode(key))
            out.append(": ")
            _pretty(item, inner, out)
            sep = "," + inner
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        for item in value:
            out.append(sep)
            _pretty(item, inner, out)
            sep = "," + inner
        out.append(newline + "]")
    else:
        out.append(_encode(value))


_json_loads: Callable[[bytes | str], Any] | None = None
_scan: Callable[[str, int], tuple[Any, int]] | None = None
_BLANK = " \t\n\r"  # JSON's whitespace


def _json_module_loads(data: bytes | str) -> Any:
    """``json.loads``, the json module imported at the first call, not with this one."""
    global _json_loads
    if _json_loads is None:
        from json import loads

        _json_loads = loads
    return _json_loads(data)


class _Defaults:
    """What the C scanner reads of a ``JSONDecoder``: ``json.loads``' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__


def _loads(data: bytes | str) -> Any:
    """``json.loads`` through the C scanner of ``_json``, without importing ``json``.

    ``json`` imports ``re``, ~30M instructions: ``run`` reads the index for
    the job's past runs at every start once the job has any.  The scanner is
    the one ``json.loads`` uses; bytes in another encoding than UTF-8, and
    text that is not JSON, go to ``json`` itself.
    """
    global _scan
    if isinstance(data, bytes):
        if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or 0 in data[:4]:
            return _json_module_loads(data)  # a BOM or UTF-16/32: json's detection
        text = data.decode("utf-8", "surrogatepass")
    else:
        text = data
    if _scan is None:
        try:
            from _json import make_scanner
        except ImportError:  # no accelerator (another Python)
            return _json_module_loads(text)
        _scan = make_scanner(_Defaults())  # type: ignore[arg-type]  # any decoder-like object
    start = len(text) - len(text.lstrip(_BLANK))
    try:
        value, end = _scan(text, start)
    except (StopIteration, SystemError):
        # Not JSON: json itself says why.  (The scanner raises its errors
        # through json.decoder, and a SystemError while that is not imported.)
        return _json_module_loads(text)
    if end < len(text) and text[end:].strip(_BLANK):
        raise ValueError(f"Extra data: char {end}")
    return value


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
            value = _loads(line)
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
    with open_regular(path) as handle:
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


def iter_lines_reversed(path: StrPath, block: int = 1 << 16) -> Generator[bytes, None, None]:
    """The non-empty lines of a file, last first, read in blocks from its end.

    Reading the newest N lines costs about N lines of I/O, whatever the file's
    length.  A last line without its newline (being written, or cut) is
    yielded like the others; callers parse and may skip it.  The file is
    opened at once (FileNotFoundError here, not on the first line) and closed
    when the generator is exhausted or closed.
    """
    return _reversed_lines(open_regular(path), block)


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


def iter_lines_holding(path: StrPath, needle: bytes) -> Generator[bytes, None, None]:
    """The lines of a file that hold ``needle``, last first.

    As ``iter_lines_reversed``, but the file is mapped and the needle searched
    backwards in all of it, so lines without it are never cut out one by one:
    a job seen in none of 100,000 index lines costs one byte search.  The
    file is opened at once (FileNotFoundError here) and closed with the
    generator.
    """
    if not needle or b"\n" in needle:
        raise ValueError("the needle must be one line of text")
    return _lines_holding(open_regular(path), needle)


def _lines_holding(handle: BinaryIO, needle: bytes) -> Generator[bytes, None, None]:
    import mmap

    with handle:
        size = os.fstat(handle.fileno()).st_size
        if not size:
            return
        with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as data:
            end = size  # lines from here on were searched
            while True:
                found = data.rfind(needle, 0, end)
                if found < 0:
                    return
                first = data.rfind(b"\n", 0, found) + 1
                last = data.find(b"\n", found, end)
                yield data[first : end if last < 0 else last]
                end = first


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The JSON object in ``line`` (or a small file's text); None when not one (cut, garbage)."""
    try:
        value = _loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
