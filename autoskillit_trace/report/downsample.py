"""Series reduced to a bounded number of points, keeping each bucket's minimum and maximum.

A chart a few thousand pixels wide cannot show more points than that; a
plain stride would drop the one snapshot where memory peaked.  Keeping the
lowest and the highest point of every bucket, in time order, draws the same
envelope as the full series.  Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from autoskillit_trace.textfmt import buckets

MAX_POINTS = 2000


def min_max(
    xs: Sequence[float], ys: Sequence[float | None], max_points: int = MAX_POINTS
) -> tuple[list[float], list[float | None]]:
    """At most ``max_points`` points of ``(xs, ys)``: every bucket's lowest and highest point.

    An unknown value (None) breaks the line; a bucket with only unknown
    values keeps one, so the gap stays visible.
    """
    if len(xs) <= max_points:
        return list(xs), list(ys)
    out_x: list[float] = []
    out_y: list[float | None] = []
    for span in buckets(len(xs), max(max_points // 2, 1)):
        low = high = -1
        low_value = high_value = 0.0
        for i in span:
            value = ys[i]
            if value is None:
                continue
            if low < 0 or value < low_value:
                low, low_value = i, value
            if high < 0 or value > high_value:
                high, high_value = i, value
        if low < 0:
            out_x.append(xs[span.start])
            out_y.append(None)
            continue
        for i in sorted({low, high}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y
