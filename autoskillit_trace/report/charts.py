"""SVG charts on one time axis, drawn here so the page needs no script to be read.

Every chart is an ``<svg>`` of the same width and margins, so a second of the
session is the same column in all of them and in the agent's lane.  Hover
text is SVG ``<title>``, which browsers show without JavaScript.  Pure: the
values in, markup out; every text goes through ``escape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from autoskillit_trace.report.downsample import min_max
from autoskillit_trace.report.lane import Lane, Mark, Span
from autoskillit_trace.textfmt import human_duration, human_kb

WIDTH = 1000
LEFT = 84  # room for the y labels
RIGHT = 16
TOP = 22  # the title
PLOT = 110  # height of a chart's plot area
AXIS = 20  # the time labels below
ROW = 22  # one row of the lane
_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)
_HOURS = (3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Line:
    """One series of a chart: a name for the legend, a CSS class, its points."""

    name: str
    css: str
    xs: Sequence[float]
    ys: Sequence[float | None]


@dataclass(frozen=True)
class Event:
    """A vertical mark across the charts: an anomaly, with its hover text."""

    at: float
    css: str
    text: str


def x_of(seconds: float, duration: float) -> float:
    """The x of a time, the same in every chart."""
    span = WIDTH - LEFT - RIGHT
    return LEFT + span * (min(max(seconds, 0.0), duration) / duration if duration > 0 else 0.0)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _exact(value: float | None) -> str:
    """A recorded value as recorded (KiB, counts are whole; percents have a decimal)."""
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else repr(value)


def _time(seconds: float) -> str:
    """A time in a data attribute: to the millisecond."""
    return f"{seconds:.3f}"


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "kb":
        return human_kb(value)
    if unit == "percent":
        return f"{value:.0f} %"
    return f"{value:.0f}"


def time_ticks(duration: float) -> list[float]:
    """At most ten round times from 0 to ``duration``."""
    if duration <= 0:
        return [0.0]
    step = next((s for s in (*_STEPS, *_HOURS) if duration / s <= 10), duration / 10)
    count = int(duration / step + 1e-9)
    return [round(i * step, 6) for i in range(count + 1)]


def _time_axis(duration: float, y: float) -> list[str]:
    parts = []
    for tick in time_ticks(duration):
        x = _num(x_of(tick, duration))
        parts.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{TOP}" y2="{_num(y)}"/>')
        label = human_duration(tick) if tick else "0"
        parts.append(f'<text class="tick" x="{x}" y="{_num(y + 14)}">{escape(label)}</text>')
    return parts


def path_data(
    xs: Sequence[float], ys: Sequence[float | None], duration: float, top: float, ceiling: float
) -> tuple[str, int]:
    """The ``d`` of a path through the points (an unknown value breaks it), and the point count."""
    parts: list[str] = []
    pen_down = False
    count = 0
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            pen_down = False
            continue
        px = _num(x_of(x, duration))
        py = _num(top + PLOT - PLOT * (y / ceiling if ceiling > 0 else 0.0))
        parts.append(f"{'L' if pen_down else 'M'}{px} {py}")
        pen_down = True
        count += 1
    return "".join(parts), count


def chart(
    title: str,
    key: str,
    unit: str,
    lines: Sequence[Line],
    duration: float,
    events: Sequence[Event] = (),
) -> str:
    """One chart: its lines, the y scale from 0 to the peak, the time axis, the marks.

    The ``<svg>`` carries the exact peak of its first line (``data-peak``),
    what the page states and a test reads back.
    """
    peaks = [max((v for v in line.ys if v is not None), default=None) for line in lines]
    known = [p for p in peaks if p is not None]
    ceiling = max(known) * 1.05 if known and max(known) > 0 else 1.0
    height = TOP + PLOT + AXIS
    first_peak = peaks[0] if peaks else None
    out = [
        f'<svg class="chart" id="chart-{escape(key)}" data-metric="{escape(key)}" '
        f'data-peak="{_exact(first_peak)}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f'<text class="title" x="{LEFT}" y="15">{escape(title)}</text>',
    ]
    out += _legend(lines, peaks, unit)
    out += _time_axis(duration, TOP + PLOT)
    for fraction in (0.0, 0.5, 1.0):
        y = _num(TOP + PLOT - PLOT * fraction / 1.05)
        label = value_text(ceiling / 1.05 * fraction if known else None, unit) if fraction else "0"
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
        out.append(f'<text class="ylabel" x="{LEFT - 6}" y="{y}">{escape(label)}</text>')
    for line in lines:
        xs, ys = min_max(line.xs, line.ys)
        d, count = path_data(xs, ys, duration, TOP, ceiling)
        out.append(
            f'<path class="line {escape(line.css)}" data-points="{count}" d="{d}">'
            f"<title>{escape(line.name)}</title></path>"
        )
    out += _event_marks(events, duration, TOP, TOP + PLOT)
    out.append(_cursor(TOP + PLOT))
    out.append("</svg>")
    return "\n".join(out)


def _cursor(bottom: float) -> str:
    """The hover line and its time, hidden until the page's script moves them."""
    return (
        f'<line class="cursor" x1="0" x2="0" y1="{TOP}" y2="{_num(bottom)}"/>'
        f'<text class="cursor" x="0" y="{_num(bottom + 14)}"></text>'
    )


def _legend(lines: Sequence[Line], peaks: Sequence[float | None], unit: str) -> list[str]:
    out = []
    x = WIDTH - RIGHT
    for line, peak in reversed(list(zip(lines, peaks, strict=True))):
        text = f"{line.name}: peak {value_text(peak, unit)}"
        out.append(
            f'<text class="legend {escape(line.css)}" x="{x}" y="15" '
            f'text-anchor="end">{escape(text)}</text>'
        )
        x -= 12 + 7 * len(text)
    return out


def _event_marks(events: Sequence[Event], duration: float, top: float, bottom: float) -> list[str]:
    out = []
    for event in events:
        x = _num(x_of(event.at, duration))
        out.append(
            f'<g class="mark {escape(event.css)}" data-at="{_time(event.at)}">'
            f"<title>{escape(event.text)}</title>"
            f'<rect class="hit" x="{_num(x_of(event.at, duration) - 4)}" y="{_num(top)}" '
            f'width="8" height="{_num(bottom - top)}"/>'
            f'<line x1="{x}" x2="{x}" y1="{_num(top)}" y2="{_num(bottom)}"/></g>'
        )
    return out


def _hover(label: str, start: float, end: float | None, details: Sequence[tuple[str, str]]) -> str:
    when = f"+{human_duration(start)}"
    if end is not None and end > start:
        when += f" to +{human_duration(end)} ({end - start:.2f}s)"
    lines = [f"{label}  {when}", *(f"{k}: {v[:500]}" for k, v in details)]
    return "\n".join(lines)


def _span(span: Span, duration: float, row: int, css: str, kind: str) -> str:
    x0 = x_of(span.start, duration)
    x1 = x_of(span.end if span.end is not None else duration, duration)
    width = max(x1 - x0, 2.0)
    state = "" if span.success is None else (" ok" if span.success else " failed")
    y = TOP + row * ROW + 3
    name = escape(span.label)
    label = ""
    if width > 7 * len(span.label) + 6:
        label = f'<text class="inside" x="{_num(x0 + 3)}" y="{_num(y + 12)}">{name}</text>'
    end = "" if span.end is None else _time(span.end)
    hover = escape(_hover(span.label, span.start, span.end, span.details))
    return (
        f'<g class="{kind}{state}" data-name="{name}" data-start="{_time(span.start)}" '
        f'data-end="{end}"><title>{hover}'
        f'</title><rect class="{css}" x="{_num(x0)}" y="{_num(y)}" width="{_num(width)}" '
        f'height="{ROW - 6}"/>{label}</g>'
    )


def _mark(mark: Mark, duration: float, row: int, kind: str) -> str:
    x = x_of(mark.at, duration)
    y = TOP + row * ROW + 3
    shape = (
        f'<path d="M{_num(x)} {_num(y)}L{_num(x + 6)} {_num(y + ROW - 6)}'
        f'L{_num(x - 6)} {_num(y + ROW - 6)}Z"/>'
        if kind != "call"
        else f'<rect x="{_num(x - 1.5)}" y="{_num(y)}" width="3" height="{ROW - 6}"/>'
        f'<text class="beside" x="{_num(x + 4)}" y="{_num(y + 12)}">{escape(mark.label)}</text>'
    )
    hover = escape(_hover(mark.label, mark.at, None, mark.details))
    return (
        f'<g class="{kind} {escape(mark.kind)}" data-name="{escape(mark.label)}" '
        f'data-start="{_time(mark.at)}"><title>{hover}</title>{shape}</g>'
    )


# Hover (optional: the charts are read without it): a line at the pointer's time across
# every chart, with that time written under it.
CURSOR_SCRIPT = (
    """
(function () {
  var charts = document.querySelectorAll("svg.chart");
  var duration = Number(document.body.dataset.duration);
  function place(x) {
    charts.forEach(function (svg) {
      var line = svg.querySelector("line.cursor"), text = svg.querySelector("text.cursor");
      if (x === null) { line.style.visibility = text.style.visibility = "hidden"; return; }
      line.setAttribute("x1", x); line.setAttribute("x2", x); text.setAttribute("x", x);
      var seconds = (x - LEFT) / SPAN * duration;
      text.textContent = "+" + seconds.toFixed(seconds < 10 ? 2 : 1) + "s";
      line.style.visibility = text.style.visibility = "visible";
    });
  }
  charts.forEach(function (svg) {
    svg.addEventListener("mousemove", function (event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      var x = point.matrixTransform(svg.getScreenCTM().inverse()).x;
      place(x >= LEFT && x <= RIGHT ? x : null);
    });
    svg.addEventListener("mouseleave", function () { place(null); });
  });
  place(null);
})();
""".replace("LEFT", str(LEFT))
    .replace("RIGHT", str(WIDTH - RIGHT))
    .replace("SPAN", str(WIDTH - LEFT - RIGHT))
)


def lane_chart(lane: Lane, duration: float, events: Sequence[Event] = ()) -> str:
    """The agent's rows on the charts' time axis: turns, tool calls, errors and retries."""
    rows = ("turns", "tool calls", "errors, retries")
    height = TOP + ROW * len(rows) + AXIS
    out = [
        f'<svg class="chart lane" id="lane" viewBox="0 0 {WIDTH} {height}" role="img" '
        'aria-label="agent timeline">',
        f'<text class="title" x="{LEFT}" y="15">Agent</text>',
    ]
    out += _time_axis(duration, TOP + ROW * len(rows))
    for row, name in enumerate(rows):
        y = _num(TOP + row * ROW + 15)
        out.append(f'<text class="ylabel" x="{LEFT - 6}" y="{y}">{escape(name)}</text>')
    out += [_span(turn, duration, 0, "turn", "turn") for turn in lane.turns]
    for call in lane.calls:
        if isinstance(call, Span):
            out.append(_span(call, duration, 1, "tool", "call"))
        else:
            out.append(_mark(call, duration, 1, "call"))
    out += [_mark(mark, duration, 2, "event") for mark in lane.marks]
    out += _event_marks(events, duration, TOP, TOP + ROW * len(rows))
    out.append(_cursor(TOP + ROW * len(rows)))
    out.append("</svg>")
    return "\n".join(out)
