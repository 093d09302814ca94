"""A sampled import chooses its sources as rules do: deterministically, by id and rate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services as rules
from evalloop.autopopulate import tick
from evalloop.autopopulate.tests.traffic import later, session
from evalloop.chat.tests.factories import ChatbotFactory, conversation
from evalloop.datasets import services
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.lib.sampling import IMPORT_SEED, sampled_in
from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.teams.permissions import Role


@pytest.fixture
def chatbot(cast):
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    return ChatbotFactory(team=cast.team, slug="support")


def sources(dataset):
    if dataset.mode == Mode.SESSION:
        return set(dataset.rows.values_list("source_session_id", flat=True))
    return set(dataset.rows.values_list("source_ai_message_id", flat=True))


def imported(chatbot, mode, rate, seed=IMPORT_SEED):
    dataset = DatasetFactory(team=chatbot.team, mode=mode)
    selection = services.select_matching(
        team=chatbot.team, chatbot=chatbot, filter=None, sample_rate=rate, sample_seed=seed
    )
    tally = services.import_sessions(dataset=dataset, selection=selection).tally
    return dataset, tally


@pytest.mark.parametrize("mode", [Mode.SESSION, Mode.MESSAGE])
def test_an_import_sampled_as_a_rule_keeps_what_the_rule_keeps(chatbot, mode):
    for _ in range(30):
        found = session(chatbot)
        conversation(found, ("human", "again"), ("ai", "sure"), start=timezone.now())
    by_rule = DatasetFactory(team=chatbot.team, mode=mode)
    rule = rules.create_rule(
        dataset=by_rule,
        chatbot=chatbot,
        sample_rate=0.4,
        start_at=timezone.now() - timedelta(hours=1),
    )
    tick.tick_rule(rule_id=rule.pk, now=later())
    by_import, tally = imported(chatbot, mode, 0.4, seed=rule.pk)
    assert sources(by_import) == sources(by_rule)
    assert 0 < tally.added < 60
    assert tally.sampled_out > 0


def test_importing_again_at_the_same_rate_keeps_the_same_sessions(chatbot):
    for _ in range(40):
        session(chatbot)
    first, _ = imported(chatbot, Mode.SESSION, 0.3)
    second, _ = imported(chatbot, Mode.SESSION, 0.3)
    larger, _ = imported(chatbot, Mode.SESSION, 0.6)
    assert sources(first) == sources(second)
    assert sources(first) < sources(larger)
    assert sources(first) == {
        pk
        for pk in chatbot.sessions.values_list("pk", flat=True)
        if sampled_in(seed=IMPORT_SEED, source_id=pk, rate=0.3)
    }


def test_reimporting_a_sample_into_the_same_dataset_adds_nothing(chatbot):
    for _ in range(20):
        session(chatbot)
    dataset, first = imported(chatbot, Mode.SESSION, 0.5)
    selection = services.select_matching(
        team=chatbot.team, chatbot=chatbot, filter=None, sample_rate=0.5
    )
    again = services.import_sessions(dataset=dataset, selection=selection).tally
    assert (again.added, again.skipped, again.sampled_out) == (0, first.added, first.sampled_out)


def ruled_dataset(chatbot, rate):
    dataset = DatasetFactory(team=chatbot.team, name="Golden", mode=Mode.SESSION)
    return dataset, rules.create_rule(dataset=dataset, chatbot=chatbot, sample_rate=rate)


def kept_by(rule, chatbot):
    return {
        pk for pk in chatbot.sessions.values_list("pk", flat=True) if tick.sampled_in(rule, (pk, 0))
    }


def test_the_import_page_samples_as_a_chosen_rule(cast, login, chatbot):
    for _ in range(20):
        session(chatbot)
    dataset, rule = ruled_dataset(chatbot, 0.5)
    client = login(cast.editor)
    query = {"chatbot": "support", "sample_percent": "50", "sample_as_rule": rule.pk}
    page = client.get(reverse("datasets:import", args=[dataset.pk]), query).content.decode()
    assert f"Rule {rule.pk} on support (keeps 50%)" in page
    assert "depends only on its id and the rate" in page
    assert f"sample as rule {rule.pk} keeps about" in page
    client.post(reverse("datasets:import", args=[dataset.pk]), query)
    assert sources(dataset) == kept_by(rule, chatbot)


def test_the_import_page_says_plainly_that_a_rule_is_not_of_the_dataset(cast, login, chatbot):
    dataset, _ = ruled_dataset(chatbot, 0.5)
    theirs = rules.create_rule(dataset=DatasetFactory(team=cast.team), chatbot=chatbot)
    client = login(cast.editor)
    path = reverse("datasets:import", args=[dataset.pk])
    for wrong in (theirs.pk, "abc", 2**70):
        query = {"chatbot": "support", "sample_percent": "50", "sample_as_rule": wrong}
        page = client.get(path, query)
        assert page.status_code == 200
        assert page.context["form"].errors["sample_as_rule"] == [
            "Sample as one of this dataset's rules, or as the import's own sample: the rule "
            "chosen is not one of them (it may have been deleted)."
        ]
        assert client.post(path, query | {"filter": ""}).status_code == 302
    assert not dataset.rows.exists()


def test_the_api_samples_as_a_rule_of_the_dataset_only(api, chatbot):
    for _ in range(20):
        session(chatbot)
    dataset, rule = ruled_dataset(chatbot, 0.5)
    other = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    theirs = rules.create_rule(dataset=other, chatbot=chatbot)
    client = api(Role.EDITOR)
    path = f"/datasets/{dataset.pk}/import"
    body = {"chatbot": "support", "sample_rate": 0.5}
    # Strict: neither the text of its id nor `true` names a rule.
    for wrong in (theirs.pk, 0, 2**70, str(rule.pk), True, float(rule.pk)):
        refused = client.post(path, body | {"sample_as_rule": wrong})
        assert refused.status_code == 422
        assert [item["loc"] for item in refused.json()["detail"]] == [["body", "sample_as_rule"]]
    assert client.post(path, body | {"sample_as_rule": rule.pk}).status_code == 200
    assert sources(dataset) == kept_by(rule, chatbot)
