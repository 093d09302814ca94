"""Getting started: set-up steps ticked off from real data, shown to those who can do them."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.web import dashboard
from evalloop.web.tests.conftest import run_to_the_end, send, tick

HOME = reverse("home")
EVERY_STEP = ["api_key", "traffic", "rows", "rule", "run"]


def steps(cast, role, *, auto_populate=True):  # type: ignore[no-untyped-def]
    tasks = dashboard.checklist(cast.team, role, auto_populate=auto_populate)
    return [(task.step.key, task.done) for task in tasks]


@pytest.mark.parametrize(
    ("member", "shown"),
    [
        ("owner", EVERY_STEP),
        ("admin", EVERY_STEP),
        ("editor", ["traffic", "rows", "rule", "run"]),  # an API key is an admin's to make
        ("viewer", []),
    ],
)
def test_each_role_sees_the_steps_it_can_do(cast, member, shown):
    role = cast.team.memberships.get(user=getattr(cast, member)).role
    assert steps(cast, role) == [(key, False) for key in shown]


def test_the_rule_step_is_there_only_while_auto_population_is_on(cast):
    assert "rule" not in dict(steps(cast, "owner", auto_populate=False))


def test_each_step_ticks_itself_off_and_the_list_goes_once_all_are_done(
    cast, chatbot, make_rule, scored, sent
):
    teams.create_api_key(team=cast.team, name="bot")
    assert steps(cast, "owner")[:2] == [("api_key", True), ("traffic", False)]

    send(cast.team, "shop", timezone.now())
    rule = make_rule(chatbot)
    assert steps(cast, "owner") == [
        ("api_key", True),
        ("traffic", True),
        ("rows", False),
        ("rule", True),
        ("run", False),
    ]
    tick(rule)
    assert dict(steps(cast, "owner"))["rows"] is True

    run_to_the_end(scored(), sent)
    assert steps(cast, "owner") == []


def test_a_revoked_key_does_not_count(cast):
    issued = teams.create_api_key(team=cast.team, name="bot")
    teams.revoke_api_key(api_key=issued.api_key)
    assert dict(steps(cast, "owner"))["api_key"] is False


def test_an_unfinished_run_does_not_count(cast, scored):
    from evalloop.runs.tests.factories import start

    start(scored())
    assert dict(steps(cast, "owner"))["run"] is False


def test_an_editor_whose_steps_are_done_sees_no_list_though_no_key_exists(
    cast, chatbot, make_rule, scored, sent
):
    send(cast.team, "shop", timezone.now())
    tick(make_rule(chatbot))
    run_to_the_end(scored(), sent)
    assert steps(cast, "editor") == []
    assert steps(cast, "owner") == [
        ("api_key", False),
        ("traffic", True),
        ("rows", True),
        ("rule", True),
        ("run", True),
    ]


def item(html: str, key: str) -> str:
    found = re.search(rf'<li class="(done)?" data-step="{key}">(.*?)</li>', html, re.S)
    assert found, f"no step {key!r}"
    return (found.group(1) or "") + "|" + found.group(2).strip()


def test_each_undone_step_links_to_where_it_is_done(cast, login):
    html = login(cast.owner).get(HOME).content.decode()
    for key, url in [
        ("api_key", reverse("settings-api-keys")),
        ("traffic", reverse("chat:chatbot-list")),
        ("rows", reverse("datasets:dataset-list")),
        ("rule", reverse("datasets:dataset-list")),
        ("run", reverse("runs:config-list")),
    ]:
        assert item(html, key).startswith(f'|<a href="{url}">'), key


def test_the_rule_step_opens_the_rule_form_of_the_latest_dataset(cast, login):
    from evalloop.datasets.models import Dataset

    Dataset.objects.create(team=cast.team, name="Older", mode="session")
    latest = Dataset.objects.create(team=cast.team, name="Latest", mode="session")
    html = login(cast.editor).get(HOME).content.decode()
    url = reverse("autopopulate:rule-create", args=[latest.pk])
    assert item(html, "rule").startswith(f'|<a href="{url}">')


def test_a_done_step_is_ticked_without_a_link(cast, login):
    teams.create_api_key(team=cast.team, name="bot")
    html = login(cast.admin).get(HOME).content.decode()
    assert item(html, "api_key").startswith("done|<strong>Create an API key</strong>")


def test_a_viewer_sees_no_set_up_steps(cast, login):
    html = login(cast.viewer).get(HOME).content.decode()
    assert 'data-testid="getting-started"' not in html


def test_the_list_is_gone_once_every_step_is_done(cast, chatbot, make_rule, scored, sent, login):
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    teams.create_api_key(team=cast.team, name="bot")
    send(cast.team, "shop", timezone.now())
    tick(make_rule(chatbot))
    client = login(cast.owner)
    assert 'data-testid="getting-started"' in client.get(HOME).content.decode()
    run_to_the_end(scored(), sent)
    assert 'data-testid="getting-started"' not in client.get(HOME).content.decode()


def test_another_teams_set_up_does_not_tick_this_teams_steps(cast, scored, sent):
    from evalloop.chat import services as chat

    teams.create_api_key(team=cast.other_team, name="theirs")
    chat.create_chatbot(team=cast.other_team, slug="theirs", name="Theirs")
    send(cast.other_team, "theirs", timezone.now())
    assert steps(cast, "owner") == [(key, False) for key in EVERY_STEP]
