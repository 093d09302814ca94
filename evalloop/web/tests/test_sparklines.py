"""Sparklines: well-formed SVG, scaled into their box, labelled, with nothing to run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evalloop.web.sparklines import HEIGHT, PAD, WIDTH, sparkline, spots

SVG = "{http://www.w3.org/2000/svg}"


def parsed(values, **options):  # type: ignore[no-untyped-def]
    return ET.fromstring(str(sparkline(values, label="Judge · score", **options)))


def test_it_draws_a_line_through_every_value_and_marks_the_last():
    svg = parsed([1.0, 3.0, 2.0])
    line = svg.find(f"{SVG}polyline").get("points").split()
    points = [tuple(float(n) for n in point.split(",")) for point in line]
    assert points == [(PAD, HEIGHT - PAD), (WIDTH / 2, PAD), (WIDTH - PAD, HEIGHT / 2)]
    dot = svg.find(f"{SVG}circle")
    assert (float(dot.get("cx")), float(dot.get("cy"))) == (WIDTH - PAD, HEIGHT / 2)


def test_rates_keep_their_whole_scale():
    assert [y for _, y in spots([0.5, 1.0], percent=True)] == [HEIGHT / 2, PAD]
    assert [y for _, y in spots([0.5, 1.0], percent=False)] == [HEIGHT - PAD, PAD]


def test_one_value_is_a_dot_in_the_middle():
    svg = parsed([0.7])
    assert svg.find(f"{SVG}polyline") is None
    dot = svg.find(f"{SVG}circle")
    assert (float(dot.get("cx")), float(dot.get("cy"))) == (WIDTH / 2, HEIGHT / 2)


def test_equal_values_make_a_flat_line_in_the_middle():
    assert {y for _, y in spots([4.0, 4.0, 4.0], percent=False)} == {HEIGHT / 2}


def test_it_is_labelled_escaped_and_without_script_or_style():
    text = str(sparkline([1.0, 2.0], label='<script>alert("x")</script> & co'))
    svg = ET.fromstring(text)
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == '<script>alert("x")</script> & co'
    assert svg.find(f"{SVG}title").text == '<script>alert("x")</script> & co'
    assert "<script" not in text
    assert "style" not in text


def test_no_values_draw_nothing_but_the_label():
    svg = parsed([])
    assert [child.tag for child in svg] == [f"{SVG}title"]
