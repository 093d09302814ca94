"""A config's trend: each number or boolean field over time, a line per evaluator version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from evalloop.runs import charts, trends
from evalloop.runs.views.common import get_config
from evalloop.teams.decorators import TeamRequest, team_view

DAY_CHOICES = (7, 30, 90, 365)
DEFAULT_DAYS = 30
CHARTED = ("number", "boolean")


@dataclass(frozen=True)
class TrendChart:
    """A chart with the series it draws, which the page also lists as a table."""

    chart: charts.Chart
    series: Sequence[trends.Series]

    @property
    def svg(self) -> str:
        return charts.render(self.chart)

    @property
    def legend(self) -> list[tuple[str, str]]:
        return [(s.name, self.chart.css_class(i)) for i, s in enumerate(self.chart.series)]


def days_asked(raw: str | None) -> int:
    try:
        days = int(raw or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return days if days in DAY_CHOICES else DEFAULT_DAYS


def point_label(series: trends.Series, point: trends.Point, value: float, percent: bool) -> str:
    shown = f"{value * 100:.1f}%" if percent else f"{value:g}"
    when = timezone.localtime(point.finished_at).strftime("%Y-%m-%d %H:%M")
    return (
        f"{series.name} @{series.digest} · {series.field} {shown} · "
        f"{point.run_type} run #{point.run_id}, {when}, {point.count} values"
    )


def chart_series(series: trends.Series, percent: bool) -> charts.Series:
    points = tuple(
        charts.Point(p.finished_at, p.value, point_label(series, p, p.value, percent))
        for p in series.points
        if p.value is not None
    )
    return charts.Series(f"{series.name} @{series.digest}", points)


def trend_charts(found: Sequence[trends.Series]) -> list[TrendChart]:
    """A chart per evaluator and field; each version of the evaluator is a series of it."""
    grouped: dict[tuple[str, str], list[trends.Series]] = {}
    for series in found:
        if series.field_type in CHARTED:
            grouped.setdefault((series.name, series.field), []).append(series)
    made = []
    for index, ((name, field), members) in enumerate(grouped.items()):
        percent = members[0].field_type == "boolean"
        chart = charts.Chart(
            key=f"trend-{index}",
            title=f"{name} · {field}",
            y_label=f"{field} ({'true rate' if percent else 'mean'})",
            series=tuple(chart_series(each, percent) for each in members),
            percent=percent,
        )
        made.append(TrendChart(chart, members))
    return made


@team_view()
def config_trend(request: TeamRequest, pk: int) -> HttpResponse:
    config = get_config(request, pk)
    days = days_asked(request.GET.get("days"))
    found = trends.config_trend(config=config, days=days)
    context = {
        "config": config,
        "days": days,
        "day_choices": DAY_CHOICES,
        "charts": trend_charts(found),
    }
    return render(request, "runs/trend.html", context)
