from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from evalloop.runs import charts

NS = {"svg": "http://www.w3.org/2000/svg"}
START = datetime(2025, 3, 1, 12, tzinfo=UTC)


def series(name, *values, start=START):
    points = tuple(
        charts.Point(start + timedelta(days=i), value, f"{name} point {i} <{value}>")
        for i, value in enumerate(values)
    )
    return charts.Series(name, points)


def parse(chart):
    return ET.fromstring(str(charts.render(chart)))


def score_chart(*lines, percent=False):
    return charts.Chart(
        key="c1", title="Judge · score", y_label="score (mean)", series=lines, percent=percent
    )


def test_the_svg_is_well_formed_and_accessible():
    svg = parse(score_chart(series("Judge @a1", 1, 3, 2)))
    assert svg.get("role") == "img"
    assert "Judge · score" in svg.get("aria-label")
    assert svg.find("svg:title", NS).text == "Judge · score"
    assert svg.get("aria-labelledby") == "c1-title c1-desc"


def test_each_version_is_a_series_of_its_own():
    svg = parse(
        score_chart(
            series("Judge @a1", 1, 2), series("Judge @b2", 4, 5, start=START + timedelta(days=3))
        )
    )
    groups = svg.findall("svg:g[@class]", NS)
    lines = [g for g in groups if g.get("class").startswith("chart-series")]
    assert [g.find("svg:title", NS).text for g in lines] == ["Judge @a1", "Judge @b2"]
    assert lines[0].get("class") == "chart-series series-0"
    assert lines[1].get("class") == "chart-series series-1"
    assert all(len(g.findall("svg:circle", NS)) == 2 for g in lines)


def test_points_carry_their_tooltip_escaped():
    text = str(charts.render(score_chart(series("J", 1.5))))
    assert "&lt;1.5&gt;" in text
    svg = ET.fromstring(text)
    titles = [c.find("svg:title", NS).text for c in svg.iter("{http://www.w3.org/2000/svg}circle")]
    assert titles == ["J point 0 <1.5>"]


def test_axes_are_labelled():
    svg = parse(score_chart(series("J", 0.2, 0.9, 0.5)))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "score (mean)" in texts
    assert "Run finished" in texts
    assert "Mar 01 12:00" in texts
    long = parse(score_chart(series("J", *range(10))))
    assert "Mar 01" in [t.text for t in long.iter("{http://www.w3.org/2000/svg}text")]


def test_a_rate_runs_from_zero_to_a_hundred_percent():
    svg = parse(score_chart(series("J", 0.25, 0.75), percent=True))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "0%" in texts
    assert "100%" in texts


def test_points_lie_inside_the_plot():
    svg = parse(score_chart(series("J", -3, 7, 120)))
    for circle in svg.iter("{http://www.w3.org/2000/svg}circle"):
        assert charts.LEFT <= float(circle.get("cx")) <= charts.WIDTH - charts.RIGHT
        assert charts.TOP <= float(circle.get("cy")) <= charts.HEIGHT - charts.BOTTOM


def test_a_single_point_or_equal_values_still_draw():
    svg = parse(score_chart(series("J", 4, 4)))
    circles = list(svg.iter("{http://www.w3.org/2000/svg}circle"))
    assert len(circles) == 2
    assert len({c.get("cy") for c in circles}) == 1
    assert (
        len(list(parse(score_chart(series("J", 4))).iter("{http://www.w3.org/2000/svg}circle")))
        == 1
    )


def test_a_chart_without_points_has_no_plot_but_a_description():
    svg = parse(score_chart())
    assert not list(svg.iter("{http://www.w3.org/2000/svg}circle"))
    assert "0 points" in svg.find("svg:desc", NS).text


def test_no_inline_style_or_script():
    text = str(charts.render(score_chart(series("J", 1, 2))))
    assert "style" not in text
    assert "<script" not in text


def test_runs_seconds_apart_get_time_labels_that_differ():
    moments = [START + timedelta(seconds=s) for s in (0, 20, 40)]
    labels = {charts.x_text(moment, timedelta(seconds=40)) for moment in moments}
    assert len(labels) == 3


def test_runs_hours_apart_are_labelled_by_minute():
    assert charts.x_text(START, timedelta(hours=5)).count(":") == 1


def x_labels(svg):
    axis = svg.find("svg:g[@class='chart-axis chart-axis-x']", NS)
    return [t for t in axis.findall("svg:text", NS) if t.get("class") != "chart-axis-label"]


def test_the_last_time_label_ends_at_its_tick_so_the_edge_never_cuts_it():
    moments = (START + timedelta(seconds=s) for s in (0, 30, 65))
    points = tuple(charts.Point(at, 1.0, "p") for at in moments)
    labels = x_labels(parse(score_chart(charts.Series("J", points))))
    assert [t.get("text-anchor") for t in labels] == ["middle"] * (charts.TICKS - 1) + ["end"]
    last = labels[-1]
    assert (last.text, float(last.get("x"))) == ("12:01:05", charts.WIDTH - charts.RIGHT)
    # Centred, the first label's half (about 0.6 em per character) still clears the left edge.
    half = len(labels[0].text) * 0.6 * 11 / 2
    assert float(labels[0].get("x")) - half > 0


def test_the_chart_scales_to_its_container_from_its_view_box():
    svg = parse(score_chart(series("J", 1, 2)))
    assert svg.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}"
    assert svg.get("width") is None
    assert svg.get("height") is None
