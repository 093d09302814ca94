"""Seeding the demo: idempotent, keeps its login, and `reset` deletes only the demo team."""

from __future__ import annotations

import stat

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import ApiClient
from evalloop.autopopulate import tick
from evalloop.autopopulate.models import Completion, Rule
from evalloop.chat.models import Chatbot, Message, Session
from evalloop.datasets.models import Dataset, Row
from evalloop.demo import seed
from evalloop.demo.conversations import CHATBOT, Traffic
from evalloop.demo.login import login_path, read_login
from evalloop.demo.setup import JUDGE
from evalloop.evaluators.models import Evaluator
from evalloop.runs.models import Config, Run
from evalloop.teams import services as teams
from evalloop.teams.flags import AUTO_POPULATE_DATASETS
from evalloop.teams.models import ApiKey, Flag, Team, User
from evalloop.teams.permissions import Role

pytestmark = pytest.mark.django_db

MODELS = (Chatbot, Dataset, Rule, Evaluator, Config, ApiKey)


def census(team: Team) -> dict[str, int]:
    def count(model: type) -> int:
        lookup = "dataset__team" if model is Rule else "team"
        return int(model.objects.filter(**{lookup: team}).count())  # type: ignore[attr-defined]

    return {model.__name__: count(model) for model in MODELS}


def test_seeding_twice_adds_nothing_and_keeps_the_login(tmp_path):
    first = seed.seed(data_dir=tmp_path)
    team = Team.objects.get(slug=seed.TEAM_SLUG)
    counted = census(team)
    again = seed.seed(data_dir=tmp_path)
    assert again == first
    assert census(team) == counted
    assert counted == {
        "Chatbot": 1,
        "Dataset": 2,
        "Rule": 2,
        "Evaluator": 6,
        "Config": 3,
        "ApiKey": 1,
    }
    assert Team.objects.count() == 1
    assert User.objects.count() == 1


def test_the_login_file_is_private_and_holds_a_working_login(tmp_path):
    login = seed.seed(data_dir=tmp_path)
    path = login_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_login(path) == login
    user = User.objects.get(email=login.email)
    assert user.check_password(login.password)
    key = teams.authenticate_api_key(login.api_key)
    assert key is not None
    assert key.team.slug == seed.TEAM_SLUG
    assert key.role == Role.EDITOR


def test_a_revoked_key_is_replaced_and_a_lost_password_reset(tmp_path):
    first = seed.seed(data_dir=tmp_path)
    teams.revoke_api_key(api_key=ApiKey.objects.get())
    login_path(tmp_path).write_text('{"email": "x"}')  # not a login any more
    second = seed.seed(data_dir=tmp_path)
    assert second.api_key != first.api_key
    assert second.password != first.password
    assert teams.authenticate_api_key(second.api_key) is not None
    assert User.objects.get().check_password(second.password)
    assert ApiKey.objects.active().count() == 1


def test_the_team_watches_its_chatbot_and_the_judge_waits_for_a_provider(tmp_path):
    seed.seed(data_dir=tmp_path)
    team = Team.objects.get(slug=seed.TEAM_SLUG)
    assert Flag.objects.get(name=AUTO_POPULATE_DATASETS).is_active_for_team(team)
    rules = {rule.dataset.mode: rule for rule in Rule.objects.select_related("dataset")}
    assert rules["message"].completion == Completion.IMMEDIATE
    assert (rules["session"].completion, rules["session"].idle_minutes) == (Completion.IDLE, 1)
    assert all(rule.enabled and rule.chatbot.slug == CHATBOT for rule in rules.values())
    kinds = set(Evaluator.objects.values_list("kind", flat=True))
    assert {"contains", "regex", "length", "python", "llm_judge"} <= kinds
    judge = Evaluator.objects.get(kind="llm_judge")
    assert judge.params["provider"] is None
    auto = {config.name: config.auto_run_on_append for config in Config.objects.all()}
    assert auto.pop(JUDGE) is False
    assert set(auto.values()) == {True}
    assert not Config.objects.filter(auto_run_on_append=True, evaluators=judge).exists()


def _traffic(login: seed.Login, batches: int = 10) -> None:
    """Send the demo's traffic and tick, so its datasets hold rows and its configs runs."""
    client = ApiClient(login.api_key)
    traffic = Traffic(seed=3, chatbot=CHATBOT)
    for _ in range(batches):
        assert client.post("/traffic", traffic.next_batch(timezone.now())).status_code == 200
    tick.tick()


def test_reset_deletes_the_demo_team_and_user_and_nothing_else(tmp_path, cast, api):
    other = api(Role.EDITOR)
    assert other.post("/chatbots", {"slug": "mine", "name": "Mine"}).status_code == 201
    mine = {"chatbot": "mine", "external_id": "s-1", "messages": [{"role": "human"}]}
    assert other.post("/traffic", {"sessions": [mine]}).status_code == 200
    kept = {team.slug: census(team) for team in (cast.team, cast.other_team)}
    login = seed.seed(data_dir=tmp_path)
    _traffic(login)
    demo = Team.objects.get(slug=seed.TEAM_SLUG)
    assert Row.objects.filter(dataset__team=demo).exists()
    assert Run.objects.filter(team=demo).exists()

    assert seed.reset(data_dir=tmp_path) is True
    assert not Team.objects.filter(slug=seed.TEAM_SLUG).exists()
    assert not User.objects.filter(email=seed.EMAIL).exists()
    assert not login_path(tmp_path).exists()
    assert not Session.objects.exclude(team__in=[cast.team, cast.other_team]).exists()
    assert {team.slug: census(team) for team in (cast.team, cast.other_team)} == kept
    assert Message.objects.filter(session__team=cast.team).count() == 1

    again = seed.seed(data_dir=tmp_path)
    assert again.api_key != login.api_key
    assert census(Team.objects.get(slug=seed.TEAM_SLUG))["Config"] == 3


def test_reset_without_a_demo_deletes_nothing(tmp_path, cast):
    assert seed.reset(data_dir=tmp_path) is False
    assert Team.objects.count() == 2


def test_a_team_called_demo_that_is_not_the_demos_is_left_alone(tmp_path, cast):
    teams.create_team(slug=seed.TEAM_SLUG, name="Ours", owner=cast.owner)
    with pytest.raises(ValidationError, match="not the demo's"):
        seed.seed(data_dir=tmp_path)
    with pytest.raises(ValidationError, match="not the demo's"):
        seed.reset(data_dir=tmp_path)
    assert Team.objects.filter(slug=seed.TEAM_SLUG, name="Ours").exists()
    assert not User.objects.filter(email=seed.EMAIL).exists()


def test_reset_keeps_a_demo_user_who_joined_another_team(tmp_path, cast):
    seed.seed(data_dir=tmp_path)
    teams.add_member(team=cast.team, email=seed.EMAIL, role=Role.VIEWER)
    seed.reset(data_dir=tmp_path)
    assert not Team.objects.filter(slug=seed.TEAM_SLUG).exists()
    assert User.objects.get(email=seed.EMAIL).memberships.get().team == cast.team
