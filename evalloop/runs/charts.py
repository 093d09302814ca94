"""Line charts as server-rendered SVG: axes with labels, a line per series, titled points.

No script and no inline style: colours come from the stylesheet through a class per series
(`series-0` ... `series-5`), shapes from SVG presentation attributes. The SVG is built with
ElementTree, so every text is escaped and the document is well-formed by construction.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

# About the card's width on a desktop page, so text drawn at 11 units reads at about 11 pixels.
WIDTH, HEIGHT = 1000, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 16, 48
PALETTE = 6  # classes series-0 .. series-5 in the stylesheet
TICKS = 5


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    label: str  # the point's tooltip


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Chart:
    key: str  # unique on the page: ids of the title and description derive from it
    title: str
    y_label: str
    series: tuple[Series, ...]
    percent: bool = False  # values are rates in 0..1, shown as percentages

    def css_class(self, index: int) -> str:
        return f"series-{index % PALETTE}"

    @property
    def points(self) -> list[Point]:
        return [point for series in self.series for point in series.points]


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    start: float  # pixel of `low`
    end: float  # pixel of `high`

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        return round(self.start + (value - self.low) / span * (self.end - self.start), 2)


def nice_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) cutting `span` in about TICKS parts."""
    raw = span / TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def value_range(chart: Chart) -> tuple[float, float, float]:
    """The y axis: low, high and the step between ticks."""
    if chart.percent:
        return 0.0, 1.0, 0.2
    values = [point.value for point in chart.points]
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def time_range(chart: Chart) -> tuple[datetime, datetime]:
    moments = [point.at for point in chart.points]
    first, last = min(moments), max(moments)
    if first == last:
        first, last = first - timedelta(hours=12), last + timedelta(hours=12)
    return first, last


def y_text(chart: Chart, value: float) -> str:
    if chart.percent:
        return f"{value * 100:.0f}%"
    return f"{round(value, 9):g}"


def x_text(moment: datetime, span: timedelta) -> str:
    local = timezone.localtime(moment)
    if span <= timedelta(minutes=10):  # runs a few seconds apart: minutes alone all read alike
        return local.strftime("%H:%M:%S")
    if span <= timedelta(days=1):
        return local.strftime("%H:%M")
    return local.strftime("%b %d %H:%M" if span <= timedelta(days=4) else "%b %d")


def x_anchor(index: int) -> str:
    """Centre tick labels on their tick, but end the last at it: past it lies the edge."""
    return "end" if index == TICKS - 1 else "middle"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    element = ET.SubElement(
        parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()}
    )
    element.text = text
    return element


def _y_axis(svg: ET.Element, chart: Chart, y: Scale, step: float) -> None:
    axis = _sub(svg, "g", class_="chart-axis chart-axis-y")
    count = round((y.high - y.low) / step)
    for index in range(count + 1):
        value = y.low + index * step
        at = y(value)
        _sub(axis, "line", x1=LEFT, x2=WIDTH - RIGHT, y1=at, y2=at, class_="chart-gridline")
        _sub(axis, "text", y_text(chart, value), x=LEFT - 6, y=at + 4, text_anchor="end")
    middle = (TOP + HEIGHT - BOTTOM) / 2
    _sub(
        axis,
        "text",
        chart.y_label,
        x=14,
        y=middle,
        text_anchor="middle",
        transform=f"rotate(-90 14 {middle})",
        class_="chart-axis-label",
    )


def _x_axis(svg: ET.Element, first: datetime, last: datetime) -> None:
    axis = _sub(svg, "g", class_="chart-axis chart-axis-x")
    base = HEIGHT - BOTTOM
    _sub(axis, "line", x1=LEFT, x2=WIDTH - RIGHT, y1=base, y2=base, class_="chart-baseline")
    span = last - first
    x = Scale(0, span.total_seconds(), LEFT, WIDTH - RIGHT)
    for index in range(TICKS):
        moment = first + span * index / (TICKS - 1)
        at = x((moment - first).total_seconds())
        _sub(axis, "line", x1=at, x2=at, y1=base, y2=base + 4, class_="chart-tick")
        text = x_text(moment, span)
        _sub(axis, "text", text, x=at, y=base + 18, text_anchor=x_anchor(index))
    _sub(
        axis,
        "text",
        "Run finished",
        x=(LEFT + WIDTH - RIGHT) / 2,
        y=HEIGHT - 8,
        text_anchor="middle",
        class_="chart-axis-label",
    )


def _series(svg: ET.Element, chart: Chart, x: Scale, y: Scale, first: datetime) -> None:
    for index, series in enumerate(chart.series):
        group = _sub(svg, "g", class_=f"chart-series {chart.css_class(index)}")
        _sub(group, "title", series.name)
        spots = [(x((p.at - first).total_seconds()), y(p.value), p) for p in series.points]
        if len(spots) > 1:
            line = " ".join(f"{px},{py}" for px, py, _ in spots)
            _sub(group, "polyline", points=line, fill="none", stroke_width=2)
        for px, py, point in spots:
            dot = _sub(group, "circle", cx=px, cy=py, r=4, stroke_width=1.5)
            _sub(dot, "title", point.label)


def summary(chart: Chart) -> str:
    count = len(chart.points)
    lines = len(chart.series)
    return (
        f"{chart.title}: {chart.y_label} over time, {lines} series "
        f"({', '.join(s.name for s in chart.series)}), {count} point{'s' if count != 1 else ''}."
    )


def render(chart: Chart) -> SafeString:
    """The chart as an inline `<svg>` element; a chart without points says so in words."""
    title_id, desc_id = f"{chart.key}-title", f"{chart.key}-desc"
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "class": "chart",
            "role": "img",
            "aria-label": summary(chart),
            "aria-labelledby": f"{title_id} {desc_id}",
        },
    )
    _sub(svg, "title", chart.title, id=title_id)
    _sub(svg, "desc", summary(chart), id=desc_id)
    if chart.points:
        _plot(svg, chart)
    return mark_safe(ET.tostring(svg, encoding="unicode"))


def _plot(svg: ET.Element, chart: Chart) -> None:
    low, high, step = value_range(chart)
    first, last = time_range(chart)
    y = Scale(low, high, HEIGHT - BOTTOM, TOP)
    x = Scale(0, (last - first).total_seconds(), LEFT, WIDTH - RIGHT)
    _y_axis(svg, chart, y, step)
    _x_axis(svg, first, last)
    _series(svg, chart, x, y, first)
