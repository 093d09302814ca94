"""The dashboard's traffic panel: sessions and messages per chatbot, today and this week."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from django.urls import reverse
from django.utils import timezone as django_timezone

from evalloop.chat import services as chat
from evalloop.web import dashboard
from evalloop.web.dashboard import Periods, periods
from evalloop.web.tests.conftest import send

HOME = reverse("home")


def test_a_day_is_a_utc_day_and_a_week_starts_on_monday():
    wednesday = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    assert periods(wednesday) == Periods(
        today=datetime(2026, 12, 2, tzinfo=UTC), week=datetime(2026, 11, 30, tzinfo=UTC)
    )
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert periods(monday).week == periods(monday).today == monday


def test_a_moment_given_in_another_zone_falls_in_its_utc_day():
    early_in_tokyo = datetime(2026, 12, 1, 2, 0, tzinfo=timezone(timedelta(hours=9)))
    assert periods(early_in_tokyo).today == datetime(2026, 11, 30, tzinfo=UTC)
    assert periods(early_in_tokyo).week == datetime(2026, 11, 30, tzinfo=UTC)
    sunday = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert periods(sunday).week == datetime(2026, 11, 23, tzinfo=UTC)


def test_the_periods_say_they_are_utc():
    label = periods(datetime(2026, 12, 2, 15, 30, tzinfo=UTC)).label
    assert label == "Days are UTC days; this week began on Monday 30 November at 00:00 UTC."


def window() -> tuple[Periods, datetime]:
    """A today and a week that leave room on both sides whatever the time of the run."""
    now = django_timezone.now()
    return Periods(today=now - timedelta(hours=2), week=now - timedelta(days=3)), now


def test_it_counts_sessions_and_messages_per_chatbot_today_and_this_week(cast, chatbot):
    at, now = window()
    send(cast.team, "shop", now - timedelta(minutes=5), now - timedelta(hours=1))
    send(cast.team, "shop", now - timedelta(days=1), key="yesterday")
    send(cast.team, "shop", now - timedelta(days=5), key="older")
    quiet = chat.create_chatbot(team=cast.team, slug="quiet", name="Quiet bot")
    send(cast.team, "quiet", now - timedelta(days=6))

    found = dashboard.traffic(cast.team, at)

    [shop, silent] = found.listed
    assert (shop.chatbot, silent.chatbot) == (chatbot, quiet)
    assert shop.counts == dashboard.Counts(
        sessions_today=2, messages_today=4, sessions_week=3, messages_week=6
    )
    assert silent.counts == dashboard.Counts()
    assert found.total == shop.counts


def test_a_session_counts_where_its_messages_fall_not_where_it_began(cast, chatbot):
    at, now = window()
    send(cast.team, "shop", now - timedelta(days=5), key="long")
    # The same conversation goes on today: one more turn.
    send(cast.team, "shop", now - timedelta(minutes=1), key="long")

    counts = dashboard.traffic(cast.team, at).total
    assert (counts.sessions_today, counts.messages_today) == (1, 2)
    assert (counts.sessions_week, counts.messages_week) == (1, 2)


def test_the_busiest_chatbots_are_listed_and_the_total_counts_them_all(cast, monkeypatch):
    monkeypatch.setattr(dashboard, "TRAFFIC_ROWS", 2)
    at, now = window()
    for number, sessions in enumerate((1, 3, 2)):
        chat.create_chatbot(team=cast.team, slug=f"bot-{number}", name=f"Bot {number}")
        send(cast.team, f"bot-{number}", *[now - timedelta(minutes=m + 1) for m in range(sessions)])

    found = dashboard.traffic(cast.team, at)
    assert [row.chatbot.slug for row in found.listed] == ["bot-1", "bot-2"]
    assert found.unlisted == 1
    assert found.total.sessions_today == 6


def test_another_teams_traffic_is_not_counted(cast, chatbot):
    at, now = window()
    chat.create_chatbot(team=cast.other_team, slug="shop", name="Their shop")
    send(cast.other_team, "shop", now - timedelta(minutes=1))

    found = dashboard.traffic(cast.team, at)
    assert [row.chatbot for row in found.listed] == [chatbot]
    assert found.total == dashboard.Counts()


def cells(html: str, slug: str) -> dict[str, str]:
    row = re.search(rf'<tr data-chatbot="{slug}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {slug!r}"
    return dict(re.findall(r'data-count="([a-z-]+)">(\d+)<', row.group(1)))


def test_the_page_shows_each_chatbot_linked_to_its_sessions_and_the_totals(cast, chatbot, login):
    send(cast.team, "shop", django_timezone.now())
    html = login(cast.viewer).get(HOME).content.decode()
    assert f'href="{reverse("chat:session-list", kwargs={"slug": "shop"})}">Shop bot</a>' in html
    expected = {"sessions-today": "1", "messages-today": "2", "sessions-week": "1"}
    assert cells(html, "shop") == expected | {"messages-week": "2"}
    assert cells(html, "") == cells(html, "shop")
    assert "this week began on" in html
    assert "UTC" in html


def test_an_empty_team_is_told_how_traffic_arrives(cast, login):
    html = login(cast.editor).get(HOME).content.decode()
    assert "No chatbots yet." in html
    assert f'<a href="{reverse("chat:chatbot-list")}">create one</a>' in html
    assert "POST /api/v1/traffic" in html


def test_a_quiet_week_says_so(cast, chatbot, login):
    html = login(cast.viewer).get(HOME).content.decode()
    assert "No traffic this week yet." in html
    assert cells(html, "shop") == dict.fromkeys(
        ("sessions-today", "messages-today", "sessions-week", "messages-week"), "0"
    )
