"""The rules' panels on other apps' pages: the transcript's decisions, the config's feeds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services, tick
from evalloop.autopopulate.models import CappedDay, PendingRow
from evalloop.autopopulate.tests.traffic import later, session
from evalloop.chat.tests.factories import ChatbotFactory, conversation
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.runs.models import Trigger
from evalloop.runs.tests.conftest import fake_kinds  # noqa: F401 (an autouse fixture)
from evalloop.runs.tests.factories import make_config, make_evaluator
from evalloop.runs.tests.scenes import run as make_run
from evalloop.teams import flags
from evalloop.teams import services as teams

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]
# Checking a one-clause filter that fails: the whole, then the clause; PostgreSQL adds the
# time limit's savepoint and setting around them.
FILTER_QUERIES = 2 if connection.vendor == "sqlite" else 6


def transcript(found):
    return reverse("chat:transcript", kwargs={"slug": found.chatbot.slug, "pk": found.pk})


def config_page(config):
    return reverse("runs:config-detail", args=[config.pk])


def decisions(body):
    return re.findall(r'data-decision="([a-z_]+)"', body)


# The transcript


def test_the_transcript_says_what_each_rule_decided(cast, login, make_rule, chatbot, dataset):
    RowFactory.create_batch(2, dataset=DatasetFactory(team=cast.team, name="Elsewhere"))
    taking = make_rule()
    make_rule(dataset=DatasetFactory(team=cast.team, name="Vips"), filter=VIP)
    found = session(chatbot)
    tick.tick_rule(rule_id=taking.pk, now=later())
    row = dataset.rows.get()
    body = login(cast.viewer).get(transcript(found)).content.decode()
    assert "Auto-population rules" in body
    assert decisions(body) == ["added", "filtered_out"]  # Golden, then Vips
    assert row.pk != 1
    assert "Added as row 1." in body
    row_url = reverse("datasets:row-detail", args=[dataset.pk, row.pk])
    assert f'href="{row_url}"' in body
    assert "Filtered out by clause 1 (tags any of vip)" in body


def test_message_mode_lists_each_turn(cast, login, make_rule, chatbot):
    turns = DatasetFactory(team=cast.team, name="Turns", mode=Mode.MESSAGE)
    rule = make_rule(dataset=turns)
    found = session(chatbot)
    conversation(found, ("human", "again"), ("ai", "sure"), start=timezone.now())
    tick.tick_rule(rule_id=rule.pk, now=later())
    turns.rows.order_by("id").last().delete()
    body = login(cast.viewer).get(transcript(found)).content.decode()
    assert decisions(body) == ["mixed", "added", "in_ledger"]
    assert "2 turns: 1 added, 1 taken before without a row." in body
    assert 'href="#message-' in body


def test_a_chatbot_without_rules_says_so(cast, login, chatbot):
    body = login(cast.viewer).get(transcript(session(chatbot))).content.decode()
    assert "No auto-population rule watches Support." in body


def test_the_flag_off_shows_no_panel(cast, login, make_rule, chatbot):
    make_rule()
    found = session(chatbot)
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    body = login(cast.viewer).get(transcript(found)).content.decode()
    assert "Auto-population rules" not in body
    assert decisions(body) == []


def test_another_teams_rules_never_show(cast, login, make_rule, chatbot):
    teams.set_team_flag(team=cast.other_team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    theirs = ChatbotFactory(team=cast.other_team, slug="support", name="Support")
    services.create_rule(
        dataset=DatasetFactory(team=cast.other_team, name="Theirs"), chatbot=theirs
    )
    found = session(chatbot)
    body = login(cast.viewer).get(transcript(found)).content.decode()
    assert "Theirs" not in body
    assert "No auto-population rule watches Support." in body
    assert login(cast.outsider).get(transcript(found)).status_code == 404


def test_the_panel_reads_the_ledger_once_for_every_rule(cast, login, make_rule, chatbot):
    found = session(chatbot)
    client = login(cast.viewer)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(transcript(found)).status_code == 200
        return len(queries)

    numbers = iter(range(100))

    def more(mode, **options):
        name = f"{mode} {next(numbers)}"
        make_rule(dataset=DatasetFactory(team=cast.team, name=name, mode=mode), **options)

    more(Mode.SESSION), more(Mode.MESSAGE)
    two = count()
    for _ in range(3):
        more(Mode.SESSION), more(Mode.MESSAGE)
    assert count() == two
    for _ in range(3):
        more(Mode.SESSION, filter=VIP)
    # A rule with a filter runs it on this one session (and names the failing clause).
    assert count() <= two + 3 * FILTER_QUERIES


# The config page


@pytest.fixture
def auto(dataset):
    return make_config(dataset, make_evaluator(dataset.team), auto_run_on_append=True)


def test_the_config_page_shows_the_rules_feeding_its_dataset(cast, login, make_rule, auto, dataset):
    make_rule(filter=[*VIP, {"field": "channel", "op": "eq", "value": "web"}])
    make_rule(enabled=False)
    make_rule(dataset=DatasetFactory(team=cast.team, name="Elsewhere"), filter=[])
    body = login(cast.viewer).get(config_page(auto)).content.decode()
    assert "Rules feeding Golden" in body
    assert body.count('id="feeding-rule-') == 2
    assert re.search(r"tags any of vip\s*<span class=\"muted\">and</span>\s*channel", body)
    assert '<span class="pill ok">enabled</span>' in body
    assert '<span class="pill">disabled</span>' in body
    assert reverse("datasets:dataset-detail", args=[dataset.pk]) in body


def test_the_flag_off_hides_the_feeding_rules(cast, login, make_rule, auto):
    make_rule()
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    body = login(cast.viewer).get(config_page(auto)).content.decode()
    assert "Rules feeding" not in body
    assert 'id="config-feeds"' not in body


def test_the_config_page_says_how_many_rows_the_cap_left_out(cast, login, auto):
    auto.daily_row_cap = 3
    auto.save(update_fields=["daily_row_cap"])
    today = timezone.now().date()
    CappedDay.objects.create(config=auto, day=today, rows=2, cap=3)
    CappedDay.objects.create(config=auto, day=today - timedelta(days=30), rows=9, cap=3)
    body = login(cast.viewer).get(config_page(auto)).content.decode()
    day = today.isoformat()
    assert (
        f"2 rows appended on {day} were not evaluated: "
        "the daily cap of 3 evaluated rows was reached." in body
    )
    assert "9 rows" not in body


def test_the_cap_message_comes_from_a_real_tick(cast, login, make_rule, chatbot, dataset):
    capped = make_config(
        dataset, make_evaluator(dataset.team), auto_run_on_append=True, daily_row_cap=1
    )
    make_rule()
    session(chatbot), session(chatbot), session(chatbot)
    tick.tick(now=later())
    body = login(cast.viewer).get(config_page(capped)).content.decode()
    assert "2 rows appended on" in body
    assert "the daily cap of 1 evaluated rows was reached" in body


def _one_row_waiting(make_rule, chatbot, dataset):
    """A config with a 10-minute interval: one delta run, then one row waiting for the next."""
    waiting = make_config(
        dataset, make_evaluator(dataset.team), auto_run_on_append=True, min_minutes_between_runs=10
    )
    make_rule()
    session(chatbot)
    tick.tick(now=later())
    session(chatbot)
    tick.tick(now=later(minutes=1))
    return waiting


def test_the_config_page_says_when_waiting_rows_run(cast, login, make_rule, chatbot, dataset):
    waiting = _one_row_waiting(make_rule, chatbot, dataset)
    assert PendingRow.objects.filter(config=waiting).count() == 1
    last = waiting.runs.filter(trigger=Trigger.RULE).get()
    after = timezone.localtime(last.created_at + timedelta(minutes=10))
    body = login(cast.viewer).get(config_page(waiting)).content.decode()
    assert (
        "1 row waits for the minimum interval between automatic runs: it will join the next "
        f"delta run after {after:%Y-%m-%d %H:%M}." in body
    )


def test_waiting_rows_say_when_nothing_will_run_them(cast, login, make_rule, chatbot, dataset):
    waiting = _one_row_waiting(make_rule, chatbot, dataset)
    last = waiting.runs.filter(trigger=Trigger.RULE).get()
    waiting.runs.filter(pk=last.pk).update(created_at=last.created_at - timedelta(minutes=30))
    page = config_page(waiting)
    body = login(cast.viewer).get(page).content.decode()
    assert "it will join the next delta run at the next tick." in body
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    body = login(cast.viewer).get(page).content.decode()
    assert "once auto-population is switched on again for the team" in body


def test_a_config_without_rules_or_limits_says_no_rule_feeds_it(cast, login, auto):
    make_run(auto, rows=1)
    body = login(cast.viewer).get(config_page(auto)).content.decode()
    assert "No auto-population rule feeds this dataset." in body
    assert 'data-testid="capped-day"' not in body
    assert 'data-testid="pending-rows"' not in body
