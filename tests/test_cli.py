"""The `evalloop` administration commands: they call the services and fail in one line."""

from __future__ import annotations

import socket
import subprocess

import pytest
from click.testing import CliRunner

from evalloop.cli import main
from evalloop.teams import services
from evalloop.teams.models import ApiKey, Membership, Team, User
from evalloop.teams.permissions import Role
from tests.processes import EVALLOOP, environ

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def evalloop(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, args, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _a_configured_secret_key(settings):  # type: ignore[no-untyped-def]
    """Commands run here inside the suite, maybe against its Redis: give them a set key."""
    settings.EVALLOOP_SECRET_KEY_GENERATED = False


@pytest.fixture
def ann() -> User:
    return services.create_user(email="ann@example.com", password=PASSWORD)


def test_createuser_creates_a_user_who_logs_in_with_that_password():
    result = evalloop("createuser", "--email", "Ann@Example.com", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.output == "Created user ann@example.com.\n"
    assert User.objects.get(email="ann@example.com").check_password(PASSWORD)


def test_createuser_refuses_a_weak_password_in_one_line_and_creates_nothing():
    result = evalloop("createuser", "--email", "ann@example.com", "--password", "12345")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "This password is too short" in result.output
    assert not User.objects.exists()


def test_createuser_refuses_an_address_already_taken(ann):
    result = evalloop("createuser", "--email", "ann@example.com", "--password", PASSWORD)
    assert result.exit_code == 1
    assert "email: A user with this e-mail address already exists." in result.output


def test_createuser_refuses_something_that_is_not_an_address():
    result = evalloop("createuser", "--email", "ann", "--password", PASSWORD)
    assert result.exit_code == 2
    assert "'ann' is not an e-mail address" in result.output
    assert not User.objects.exists()


def test_createteam_makes_the_user_its_owner(ann):
    result = evalloop("createteam", "--slug", "support", "--name", "Support", "--owner", ann.email)
    assert result.exit_code == 0, result.output
    team = Team.objects.get(slug="support")
    assert Membership.objects.get(team=team, user=ann).role == Role.OWNER


def test_createteam_needs_an_existing_owner():
    result = evalloop("createteam", "--slug", "s", "--name", "S", "--owner", "nobody@example.com")
    assert result.exit_code == 1
    assert "no user has the e-mail address nobody@example.com" in result.output
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    ("slug", "name", "problem"),
    [("not a slug", "Support", "slug: Enter a valid “slug”"), ("ok", "x" * 101, "name: ")],
)
def test_createteam_refuses_a_bad_slug_or_name(ann, slug, name, problem):
    result = evalloop("createteam", "--slug", slug, "--name", name, "--owner", ann.email)
    assert result.exit_code == 1
    assert problem in result.output
    assert not Team.objects.exists()


def test_createteam_refuses_a_slug_already_taken(ann):
    services.create_team(slug="support", name="Support", owner=ann)
    result = evalloop("createteam", "--slug", "support", "--name", "Again", "--owner", ann.email)
    assert result.exit_code == 1
    assert "slug: A team with the slug 'support' already exists." in result.output


def test_apikey_create_prints_a_working_key_alone_on_the_last_line(ann):
    services.create_team(slug="support", name="Support", owner=ann)
    result = evalloop("apikey", "create", "--team", "support", "--name", "bot", "--role", "viewer")
    assert result.exit_code == 0, result.output
    key = result.output.splitlines()[-1]
    found = services.authenticate_api_key(key)
    assert found is not None
    assert (found.team.slug, found.name, found.role) == ("support", "bot", Role.VIEWER)


def test_apikey_create_defaults_to_the_editor_role(ann):
    services.create_team(slug="support", name="Support", owner=ann)
    assert evalloop("apikey", "create", "--team", "support", "--name", "bot").exit_code == 0
    assert ApiKey.objects.get().role == Role.EDITOR


def test_apikey_create_refuses_an_unknown_team_or_the_owner_role(ann):
    services.create_team(slug="support", name="Support", owner=ann)
    unknown = evalloop("apikey", "create", "--team", "sales", "--name", "bot")
    assert unknown.exit_code == 1
    assert "no team has the slug 'sales'" in unknown.output
    owner = evalloop("apikey", "create", "--team", "support", "--name", "bot", "--role", "owner")
    assert owner.exit_code == 2
    assert not ApiKey.objects.exists()


def test_the_command_lists_what_it_can_do():
    result = evalloop("--help")
    for command in ("up", "web", "worker", "beat", "createuser", "createteam", "apikey"):
        assert f"  {command}" in result.output


def run(data_dir, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `evalloop` in a process of its own, on SQLite in `data_dir`."""
    return subprocess.run(
        [*EVALLOOP, *args],
        env=environ(data_dir, **overrides),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_a_malformed_setting_is_one_line_and_no_traceback(tmp_path):
    args = ("createuser", "--email", "a@b.example", "--password", PASSWORD)
    result = run(tmp_path, *args, EVALLOOP_TICK_SECONDS="often")
    assert result.returncode == 2
    assert result.stderr == "Error: EVALLOOP_TICK_SECONDS='often' is not a whole number.\n"


def test_a_command_on_a_fresh_data_dir_first_creates_the_database(tmp_path):
    result = run(tmp_path, "createuser", "--email", "ann@example.com", "--password", PASSWORD)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Created user ann@example.com.\n"
    assert (tmp_path / "db.sqlite3").exists()


def test_up_refuses_a_port_already_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(tmp_path, "up", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use.\n"


def test_a_weak_secret_key_is_one_line_and_no_traceback(tmp_path):
    args = ("createuser", "--email", "a@b.example", "--password", PASSWORD)
    result = run(tmp_path, *args, SECRET_KEY="change-me")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: SECRET_KEY is too weak (it has 9 characters): ")
    assert result.stderr.count("\n") == 1


def test_with_a_redis_broker_a_generated_secret_key_is_refused(tmp_path):
    args = ("createuser", "--email", "a@b.example", "--password", PASSWORD)
    result = run(tmp_path, *args, CELERY_BROKER_URL="redis://127.0.0.1:6379/15")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: SECRET_KEY must be set when CELERY_BROKER_URL is")
    assert not (tmp_path / "db.sqlite3").exists()


def test_tick_runs_every_enabled_rule_and_prints_a_summary(ann):
    from evalloop.autopopulate import services as rules
    from evalloop.chat.tests.factories import ChatbotFactory
    from evalloop.datasets.tests.factories import DatasetFactory
    from evalloop.teams import flags

    team = services.create_team(slug="support", name="Support", owner=ann)
    services.set_team_flag(team=team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    rule = rules.create_rule(dataset=DatasetFactory(team=team), chatbot=ChatbotFactory(team=team))
    result = evalloop("tick")
    assert result.exit_code == 0, result.output
    assert f"rule {rule.pk}: no_op, scanned 0" in result.output
    assert result.output.endswith("Ticked 1 rule; 0 rows appended.\n")
