"""The home page: the team's dashboard, its inbox panel, its cost, and its team scope."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from evalloop.chat import services as chat
from evalloop.notifications.models import Kind, Notification
from evalloop.notifications.services import notify
from evalloop.runs.models import RunType
from evalloop.teams.permissions import Action
from evalloop.web.tests.conftest import run_to_the_end, send, tick

HOME = reverse("home")


def test_it_shows_the_team_and_links_to_every_section(cast, login):
    html = login(cast.viewer).get(HOME).content.decode()
    assert "<h1>Team A</h1>" in html
    for name in ("chat:chatbot-list", "datasets:dataset-list", "notifications:inbox", "settings"):
        assert f'href="{reverse(name)}"' in html


def test_it_counts_members_by_role(cast, login):
    html = login(cast.viewer).get(HOME).content.decode()
    for text in ("1 owner", "1 admin", "1 editor", "1 viewer"):
        assert text in html


def test_it_shows_the_latest_unread_notifications_escaped_and_their_count(cast, login):
    for number in range(7):
        notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title=f"<i>note {number}</i>")
    Notification.objects.filter(recipient=cast.viewer, title="<i>note 6</i>").update(
        read_at=timezone.now()
    )
    html = login(cast.viewer).get(HOME).content.decode()
    assert "6 unread notifications; the latest 5:" in html
    assert "&lt;i&gt;note 5&lt;/i&gt;" in html  # the newest unread
    assert "note 6" not in html  # read
    assert "note 0" not in html  # unread, but older than the latest five


def test_with_nothing_unread_the_inbox_says_what_it_is_for(cast, login):
    html = login(cast.viewer).get(HOME).content.decode()
    assert "No unread notifications." in html


def test_the_outsider_sees_nothing_of_another_team(
    cast, chatbot, auto_populate, make_rule, scored, sent, login
):
    send(cast.team, "shop", timezone.now())
    tick(make_rule(chatbot))
    run_to_the_end(scored("Secret config", auto_run_on_append=True), sent)
    notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title="secret of team a")

    html = login(cast.outsider).get(HOME).content.decode()
    assert "<h1>Team B</h1>" in html
    for secret in ("Team A", "Shop bot", "From the shop", "Secret config", "secret of team a"):
        assert secret not in html
    assert "No chatbots yet." in html
    assert "No runs yet." in html


def build(cast, numbers, *, make_rule, scored, sent):  # type: ignore[no-untyped-def]
    """One of everything the dashboard lists per number: chatbots with traffic, rules, runs."""
    now = timezone.now()
    for number in numbers:
        bot = chat.create_chatbot(team=cast.team, slug=f"bot-{number}", name=f"Bot {number}")
        send(cast.team, bot.slug, now - timedelta(minutes=number + 1))
        tick(make_rule(bot, name=f"From bot {number}"))
        config = scored(f"Config {number}", auto_run_on_append=True)
        run_to_the_end(config, sent)
        run_to_the_end(config, sent, type=RunType.PREVIEW, sample_size=1)
        notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title=f"note {number}")


def queries_of(client) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as context:
        assert client.get(HOME).status_code == 200
    return len(context)


def test_the_page_costs_the_same_queries_for_one_of_everything_as_for_many(
    cast, auto_populate, make_rule, scored, sent, login, django_assert_max_num_queries
):
    editor = login(cast.editor)
    build(cast, [0], make_rule=make_rule, scored=scored, sent=sent)
    one = queries_of(editor)
    build(cast, range(1, 7), make_rule=make_rule, scored=scored, sent=sent)
    assert queries_of(editor) == one
    # shell 5, flag 2, checklist 2, traffic 2, rules 3, runs 2, trends 2, unread 1, roles 1
    with django_assert_max_num_queries(20):
        editor.get(HOME)
