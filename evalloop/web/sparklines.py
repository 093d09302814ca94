"""Sparklines: a series as a small server-rendered SVG line, without axes, script or style.

Built with ElementTree like the run pages' charts (`evalloop.runs.charts`), whose scale it
shares: every text is escaped and the document is well-formed by construction. Colours come
from the stylesheet (`svg.sparkline`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from django.utils.safestring import SafeString, mark_safe

from evalloop.runs.charts import Scale

WIDTH, HEIGHT, PAD = 120, 32, 3


def y_range(values: Sequence[float], *, percent: bool) -> tuple[float, float]:
    """Rates keep their whole 0..1 scale; other values span their own range."""
    if percent:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if low == high:  # a flat line sits in the middle
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def spots(values: Sequence[float], *, percent: bool) -> list[tuple[float, float]]:
    """Each value's (x, y) in the box: evenly spaced, in order, the first on the left."""
    low, high = y_range(values, percent=percent)
    y = Scale(low, high, HEIGHT - PAD, PAD)
    if len(values) == 1:
        return [(WIDTH / 2, y(values[0]))]
    x = Scale(0, len(values) - 1, PAD, WIDTH - PAD)
    return [(x(index), y(value)) for index, value in enumerate(values)]


def sparkline(values: Sequence[float], *, label: str, percent: bool = False) -> SafeString:
    """`values` as an inline `<svg>` line with the last value marked; `label` says it in words."""
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "width": str(WIDTH),
            "height": str(HEIGHT),
            "class": "sparkline",
            "role": "img",
            "aria-label": label,
        },
    )
    ET.SubElement(svg, "title").text = label
    if values:
        points = spots(values, percent=percent)
        if len(points) > 1:
            line = " ".join(f"{px},{py}" for px, py in points)
            ET.SubElement(svg, "polyline", {"points": line, "fill": "none", "stroke-width": "1.5"})
        last_x, last_y = points[-1]
        ET.SubElement(svg, "circle", {"cx": str(last_x), "cy": str(last_y), "r": "2.5"})
    return mark_safe(ET.tostring(svg, encoding="unicode"))
