"""The typed readers behind config/settings.py: a malformed value names itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from evalloop.lib import env as env_module
from evalloop.lib.env import Env, secret_key


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)]
)
def test_it_reads_booleans_in_their_usual_spellings(raw, expected):
    assert Env({"DEBUG": raw}).boolean("DEBUG", not expected) is expected


def test_it_refuses_a_boolean_it_cannot_read():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        Env({"DEBUG": "maybe"}).boolean("DEBUG", True)


def test_an_empty_value_means_the_default():
    assert Env({"DEBUG": "  "}).boolean("DEBUG", True) is True
    assert Env({"N": ""}).integer("N", 7) == 7


def test_it_refuses_an_integer_it_cannot_read_or_below_its_minimum():
    with pytest.raises(ImproperlyConfigured, match=r"EVALLOOP_TICK_SECONDS='ten' is not a whole"):
        Env({"EVALLOOP_TICK_SECONDS": "ten"}).integer("EVALLOOP_TICK_SECONDS", 30)
    with pytest.raises(ImproperlyConfigured, match=r"EVALLOOP_TICK_SECONDS=0 must be at least 1"):
        Env({"EVALLOOP_TICK_SECONDS": "0"}).integer("EVALLOOP_TICK_SECONDS", 30, minimum=1)


def test_it_refuses_a_value_outside_the_choices_and_lists_them():
    with pytest.raises(ImproperlyConfigured, match=r"LOG_LEVEL='LOUD' must be one of: INFO, DEBUG"):
        Env({"LOG_LEVEL": "LOUD"}).choice("LOG_LEVEL", "INFO", ("INFO", "DEBUG"))


def test_it_refuses_an_unknown_time_zone():
    assert Env({"TIME_ZONE": "Europe/Paris"}).time_zone("TIME_ZONE", "UTC") == "Europe/Paris"
    with pytest.raises(ImproperlyConfigured, match=r"TIME_ZONE='Mars/Olympus' is not a time zone"):
        Env({"TIME_ZONE": "Mars/Olympus"}).time_zone("TIME_ZONE", "UTC")


def test_it_reads_comma_separated_lists():
    assert Env({"HOSTS": "a.example, b.example,,"}).csv_list("HOSTS", []) == [
        "a.example",
        "b.example",
    ]


def test_without_database_url_the_database_is_sqlite_in_wal_mode(tmp_path):
    config = Env({}).database("DATABASE_URL", sqlite_path=tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "evalloop.lib.sqlite"  # Django's, waiting for the lock in steps
    assert config["NAME"] == tmp_path / "db.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_a_postgres_url_becomes_a_postgres_database(tmp_path):
    url = "postgres://ann:secret@db.example:5433/evalloop"
    config = Env({"DATABASE_URL": url}).database("DATABASE_URL", sqlite_path=tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", 5433, "evalloop")


def test_a_sqlite_url_keeps_the_sqlite_options(tmp_path):
    url = f"sqlite:///{tmp_path}/other.sqlite3"
    config = Env({"DATABASE_URL": url}).database("DATABASE_URL", sqlite_path=tmp_path)
    assert config["NAME"] == Path(f"{tmp_path}/other.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://root@localhost/evalloop", "must be a postgres:// or sqlite:// URL"),
        ("postgres://u@host:port/evalloop", "DATABASE_URL is malformed"),
        ("evalloop", "DATABASE_URL is malformed"),
        ("postgres://u@host:5432", "names no database"),
    ],
)
def test_it_refuses_a_database_url_it_cannot_use(tmp_path, url, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        Env({"DATABASE_URL": url}).database("DATABASE_URL", sqlite_path=tmp_path)


@pytest.mark.parametrize("raw", [None, "", "filesystem://"])
def test_without_a_redis_url_the_broker_is_the_embedded_one(raw):
    environ = {} if raw is None else {"CELERY_BROKER_URL": raw}
    assert Env(environ).broker_url("CELERY_BROKER_URL") is None


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/2", "redis://cache"]
)
def test_it_takes_a_redis_broker_url(url):
    assert Env({"CELERY_BROKER_URL": url}).broker_url("CELERY_BROKER_URL") == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("amqp://guest@localhost//", "must be a redis:// or rediss:// URL"),
        ("redis://localhost:sixty/0", "malformed port"),
        ("redis:///0", "names no host"),
        ("redis://localhost/queue", "must be a database number"),
    ],
)
def test_it_refuses_a_broker_url_it_cannot_use(url, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        Env({"CELERY_BROKER_URL": url}).broker_url("CELERY_BROKER_URL")


STRONG_KEY = "k7-Qp2vX9zL4mN8rT1wY6bC3dF5gH0jS-aE7uI2oP9lK4xZ8cV1b"


@pytest.mark.parametrize("debug", [True, False])
def test_without_a_configured_key_one_is_generated_once_and_kept_private(tmp_path, debug):
    first = secret_key(configured=None, debug=debug, data_dir=tmp_path)
    assert secret_key(configured=None, debug=debug, data_dir=tmp_path) == first
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_a_configured_secret_key_wins(tmp_path):
    assert secret_key(configured=STRONG_KEY, debug=False, data_dir=tmp_path) == STRONG_KEY
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("s3cret", "it has 6 characters"),
        ("ab" * 40, "it uses only 2 distinct characters"),
        ("django-insecure-" + STRONG_KEY, "starts with 'django-insecure-'"),
        ("change-me-to-a-long-random-string-of-at-least-fifty-characters", "placeholder"),
    ],
)
def test_without_debug_a_weak_secret_key_stops_start_up_saying_why(tmp_path, key, problem):
    with pytest.raises(ImproperlyConfigured, match=f"SECRET_KEY is too weak \\(.*{problem}"):
        secret_key(configured=key, debug=False, data_dir=tmp_path)
    assert secret_key(configured=key, debug=True, data_dir=tmp_path) == key


def test_the_deployment_pages_example_secret_key_is_refused(tmp_path):
    page = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text()
    (example,) = re.findall(r"SECRET_KEY='([^']+)'", page)
    with pytest.raises(ImproperlyConfigured, match="placeholder"):
        secret_key(configured=example, debug=False, data_dir=tmp_path)


def test_only_the_process_environment_counts_as_read():
    Env({"ONLY_IN_A_TEST": "1"}).string("ONLY_IN_A_TEST")
    assert "ONLY_IN_A_TEST" not in env_module.READ
