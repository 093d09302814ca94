"""The dashboard's rule health: status, last tick and rows added today, behind the team flag."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services as rules
from evalloop.autopopulate import tick as ticks
from evalloop.autopopulate.models import Status
from evalloop.chat import services as chat
from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.web import dashboard
from evalloop.web.dashboard import Periods
from evalloop.web.tests.conftest import send, tick

HOME = reverse("home")


def today() -> Periods:
    now = timezone.now()
    return Periods(today=now - timedelta(hours=1), week=now - timedelta(days=3))


def break_rule(monkeypatch, rule) -> None:  # type: ignore[no-untyped-def]
    """Make the rule's next tick fail as a broken filter would."""

    def failing(found):  # type: ignore[no-untyped-def]
        raise RuntimeError("filter store unreadable")

    monkeypatch.setattr(ticks, "rule_filter", failing)
    tick(rule)
    monkeypatch.undo()


def test_it_counts_the_rows_each_rule_added_today(cast, chatbot, auto_populate, make_rule):
    rule = make_rule(chatbot)
    send(cast.team, "shop", timezone.now() - timedelta(minutes=3), timezone.now())
    tick(rule)
    idle = make_rule(chat.create_chatbot(team=cast.team, slug="idle", name="Idle"), name="Idle")
    rule.rows.filter(pk=rule.rows.order_by("id").first().pk).update(
        created_at=timezone.now() - timedelta(hours=3)  # before today began
    )

    health = dashboard.rule_health(cast.team, today()).listed
    assert [(each.rule, each.rows_today) for each in health] == [(rule, 1), (idle, 0)]
    assert health[0].rule.last_status == Status.SUCCESS
    assert not health[0].needs_attention


def test_failing_and_disabled_rules_come_first(
    cast, chatbot, auto_populate, make_rule, monkeypatch
):
    healthy = make_rule(chatbot, name="Healthy")
    broken = make_rule(chatbot, name="Broken")
    off = make_rule(chatbot, name="Off")
    tick(healthy)
    break_rule(monkeypatch, broken)
    rules.set_enabled(rule=off, enabled=False)

    health = dashboard.rule_health(cast.team, today()).listed
    assert [each.rule.pk for each in health] == [broken.pk, off.pk, healthy.pk]
    assert health[0].failing
    assert health[0].needs_attention
    assert not health[1].failing
    assert health[1].needs_attention


def rule_row(html: str, rule_id: int) -> str:
    found = re.search(rf'<tr class="([^"]*)" data-rule="{rule_id}">(.*?)</tr>', html, re.S)
    assert found, f"rule {rule_id} is not listed"
    return found.group(1) + "|" + found.group(2)


def test_the_page_links_each_rule_and_makes_a_failing_one_stand_out(
    cast, chatbot, auto_populate, make_rule, monkeypatch, login
):
    healthy = make_rule(chatbot, name="Healthy")
    send(cast.team, "shop", timezone.now())
    tick(healthy)
    broken = make_rule(chatbot, name="Broken")
    break_rule(monkeypatch, broken)
    html = login(cast.viewer).get(HOME).content.decode()

    row = rule_row(html, healthy.pk)
    url = reverse("autopopulate:rule-detail", args=[healthy.dataset_id, healthy.pk])
    assert row.startswith("|")  # no warning class
    assert f'<a href="{url}">Shop bot → Healthy</a>' in row
    assert '<span class="pill ok">success</span>' in row
    assert 'data-count="rows-today">1<' in row
    assert "just now</time>" in row

    row = rule_row(html, broken.pk)
    assert row.startswith("rule-failing|")
    assert '<span class="pill bad">failing</span>' in row
    assert "RuntimeError: filter store unreadable" in row


def test_a_disabled_rule_says_so(cast, chatbot, auto_populate, make_rule, login):
    rule = make_rule(chatbot)
    rules.set_enabled(rule=rule, enabled=False)
    row = rule_row(login(cast.viewer).get(HOME).content.decode(), rule.pk)
    assert row.startswith("rule-off|")
    assert '<span class="pill warn">disabled</span>' in row
    assert '<span class="muted">never</span>' in row


def test_a_rule_not_yet_ticked_is_waiting(cast, chatbot, auto_populate, make_rule, login):
    rule = make_rule(chatbot)
    row = rule_row(login(cast.viewer).get(HOME).content.decode(), rule.pk)
    assert "waiting for its first tick" in row


def test_the_panel_is_hidden_while_auto_population_is_off(
    cast, chatbot, auto_populate, make_rule, login
):
    make_rule(chatbot)
    client = login(cast.viewer)
    assert 'data-testid="rule-health"' in client.get(HOME).content.decode()
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    html = client.get(HOME).content.decode()
    assert 'data-testid="rule-health"' not in html
    assert "From the shop" not in html


def test_without_rules_the_panel_says_how_to_add_one(cast, auto_populate, login):
    html = login(cast.editor).get(HOME).content.decode()
    assert "No rules yet." in html
    assert f'open a <a href="{reverse("datasets:dataset-list")}">dataset</a> and add one' in html
    assert "an editor adds one" in login(cast.viewer).get(HOME).content.decode()


def test_another_teams_rules_are_not_listed(cast, auto_populate, make_rule):
    theirs = chat.create_chatbot(team=cast.other_team, slug="theirs", name="Theirs")
    make_rule(theirs)
    assert dashboard.rule_health(cast.team, today()).listed == []


def test_a_team_of_many_rules_lists_a_few_those_needing_attention_first(
    cast, chatbot, auto_populate, make_rule, login, monkeypatch
):
    monkeypatch.setattr(dashboard, "RULE_ROWS", 2)
    made = [make_rule(chatbot, name=f"Rule {number}") for number in range(4)]
    rules.set_enabled(rule=made[3], enabled=False)

    panel = dashboard.rule_health(cast.team, today())
    assert [each.rule.pk for each in panel.listed] == [made[3].pk, made[0].pk]
    assert panel.unlisted == 2
    html = login(cast.viewer).get(HOME).content.decode()
    assert html.count("data-rule=") == 2
    assert "and 2 more rules, each on its" in html
