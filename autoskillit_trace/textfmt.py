"""Text for people: sizes, durations, tables and sparklines.  Pure functions, no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
SPARK = "▁▂▃▄▅▆▇█"
TIMES = "\N{MULTIPLICATION SIGN}"  # 2.1x, as people write a ratio


def undecoded_as_hex(message: str) -> str:
    """``message`` with each byte of user input that was not UTF-8 shown as ``\\xff``.

    Such a byte reaches a message as a lone surrogate, which ``repr`` writes
    as ``\\udcff``; the rest of the tool (recorded command lines, spawn
    errors) shows it as the byte it was.
    """
    return re.sub(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])", r"\1\\x\2", message)


def human_bytes(count: float | None) -> str:
    """``1.5 MiB`` for 1572864; ``-`` when unknown."""
    if count is None:
        return "-"
    value = float(count)
    for unit in _SIZE_UNITS:
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_kb(kb: float | None) -> str:
    return "-" if kb is None else human_bytes(kb * 1024)


def human_duration(seconds: float | None) -> str:
    """``0.4s``, ``12.3s``, ``3m05s``, ``2h01m``, ``3d04h``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_SIZE_POWER = {"": 1, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size_kb(text: str) -> float:
    """KiB for ``500M``, ``1.5G``, ``800000K``, ``2GiB`` (a bare number is KiB, as peak_rss_kb).

    Raises ValueError with a message that says what is expected.
    """
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a size; expected a number with an optional unit K, M, G or T "
            "(for example 500M, 1.5G)"
        )
    power = _SIZE_POWER[match.group(2).lower()] - 1
    return float(match.group(1)) * float(1024**power)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], width: int
) -> list[str]:
    """Aligned columns, two spaces apart; the last column is cut to fit ``width``."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    fixed = sum(widths[:-1]) + 2 * (len(headers) - 1)
    last = max(width - fixed, 10)
    lines = []
    for row in (list(headers), *rows):
        cells = [
            cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        cells.append(shorten(row[-1], last))
        lines.append("  ".join(cells).rstrip())
    return lines


def buckets(count: int, width: int) -> list[range]:
    """Split ``count`` points into at most ``width`` consecutive, near-equal ranges."""
    if count <= 0 or width <= 0:
        return []
    n = min(count, width)
    return [range(i * count // n, (i + 1) * count // n) for i in range(n)]


def downsample(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most ``width`` points, each the maximum of its bucket, so spikes stay visible."""
    out: list[float | None] = []
    for span in buckets(len(values), width):
        known = [v for v in (values[i] for i in span) if v is not None]
        out.append(max(known) if known else None)
    return out


def sparkline(values: Sequence[float | None], width: int = 60) -> str:
    """One character per bucket, ``▁`` for the minimum to ``█`` for the maximum.

    Unknown values are blanks; a flat series is a flat line of ``▁``.
    """
    points = downsample(values, width)
    known = [v for v in points if v is not None]
    if not known:
        return " " * len(points)
    low, high = min(known), max(known)
    span = high - low
    chars = []
    for value in points:
        if value is None:
            chars.append(" ")
        elif span <= 0:
            chars.append(SPARK[0])
        else:
            chars.append(SPARK[min(int((value - low) / span * len(SPARK)), len(SPARK) - 1)])
    return "".join(chars)


def marker_line(positions: Sequence[int], count: int, width: int, mark: str = "^") -> str:
    """A line with ``mark`` under the buckets holding the given point indexes."""
    spans = buckets(count, width)
    cells = [" "] * len(spans)
    for position in positions:
        for i, span in enumerate(spans):
            if position in span:
                cells[i] = mark
                break
    return "".join(cells).rstrip()
