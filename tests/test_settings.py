"""config/settings.py as a whole: defaults that work locally, loud failures, documented knobs."""

from __future__ import annotations

import inspect
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from evalloop.lib import env
from evalloop.lib.env import Env

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "config" / "settings.py"
VARIABLE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
DOCUMENTED = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)
# A documented default: the table's second cell; an example's value: after `NAME=`.
DOCUMENTED_DEFAULT = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|", re.MULTILINE)
EXAMPLE_VALUE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


@pytest.fixture
def load(monkeypatch, tmp_path):
    """Answer a loader of the settings file under a given environment, as at start-up."""

    def _load(**environ: str) -> dict[str, Any]:
        for name in env.READ | set(environ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("EVALLOOP_DATA_DIR", str(tmp_path / "data"))
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))

    return _load


def test_by_default_it_keeps_everything_in_the_data_dir(load, tmp_path):
    settings = load()
    data = tmp_path / "data"
    assert settings["DATABASES"]["default"]["NAME"] == data / "db.sqlite3"
    assert settings["EVALLOOP_EMBEDDED_BROKER"] is True
    options = settings["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["data_folder_in"] == str(data / "broker" / "queue")
    assert settings["SECRET_KEY"] == (data / "secret_key").read_text()
    assert settings["EVALLOOP_SECRET_KEY_GENERATED"] is True


def test_debug_is_off_unless_asked_for_and_hsts_follows_it(load):
    settings = load()
    assert settings["DEBUG"] is False
    assert settings["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    debugging = load(DEBUG="true")
    assert debugging["DEBUG"] is True
    assert debugging["SECURE_HSTS_SECONDS"] == 0


def test_with_postgres_and_redis_it_uses_them(load):
    settings = load(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/evalloop",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert settings["EVALLOOP_EMBEDDED_BROKER"] is False
    assert "CELERY_BROKER_TRANSPORT" not in settings


def test_cookies_are_secure_on_plain_http_only_when_told(load):
    assert load()["SESSION_COOKIE_SECURE"] is False  # over HTTPS the middleware marks them
    forced = load(EVALLOOP_SECURE_COOKIES="true")
    assert forced["SESSION_COOKIE_SECURE"] is forced["CSRF_COOKIE_SECURE"] is True


def test_behind_trusted_proxies_https_is_read_from_their_header(load):
    assert "SECURE_PROXY_SSL_HEADER" not in load()
    behind = load(EVALLOOP_TRUSTED_PROXIES="1")
    assert behind["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY is too weak (it has 9 characters)"),
        ({"EVALLOOP_TICK_SECONDS": "often"}, "EVALLOOP_TICK_SECONDS='often' is not a whole number"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' must be one of"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "must be a postgres:// or sqlite:// URL"),
        ({"CELERY_BROKER_URL": "amqp://localhost//"}, "must be a redis:// or rediss:// URL"),
    ],
)
def test_a_malformed_setting_stops_start_up_with_its_name(load, environ, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        load(**environ)


def _names(path: Path, pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(path.read_text()))


def test_every_variable_read_by_the_settings_is_in_env_example_and_docs():
    read = set(env.READ)
    assert "DATABASE_URL" in read  # the settings were loaded through evalloop.lib.env
    assert read - _names(ROOT / ".env.example", VARIABLE) == set(), "missing from .env.example"
    assert read - _names(ROOT / "docs/settings.md", DOCUMENTED) == set(), "missing from docs"


def test_env_example_and_docs_name_only_variables_the_settings_read():
    read = set(env.READ)
    assert _names(ROOT / ".env.example", VARIABLE) - read == set(), "stale in .env.example"
    assert _names(ROOT / "docs/settings.md", DOCUMENTED) - read == set(), "stale in docs"


@pytest.fixture
def defaults(load, monkeypatch) -> dict[str, Any]:
    """Each variable the settings read, with the default its reader was given (None: none)."""
    given: dict[str, Any] = {}

    def recording(method: Any) -> Any:
        signature = inspect.signature(method)

        def read(self: Env, name: str, *args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(self, name, *args, **kwargs)
            arguments.apply_defaults()
            given[name] = arguments.arguments.get("default")
            return method(self, name, *args, **kwargs)

        return read

    readers = [name for name, member in vars(Env).items() if name[0] != "_" and callable(member)]
    for name in readers:
        monkeypatch.setattr(Env, name, recording(getattr(Env, name)))
    load()
    return given


def as_environment(default: Any) -> str | None:
    """The default written as the environment would hold it; None when there is no literal one."""
    if default is None:
        return None
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, list):
        return ",".join(default)
    return str(default)


def test_the_docs_give_each_setting_the_default_the_code_has(defaults):
    documented = dict(DOCUMENTED_DEFAULT.findall((ROOT / "docs/settings.md").read_text()))
    assert set(defaults) == set(env.READ)
    wrong = {}
    for name, default in defaults.items():
        cell, code = documented[name].strip(), as_environment(default)
        literal = re.match(r"`([^`]*)`", cell)
        if literal and literal[1] != code:
            wrong[name] = f"documented {literal[1]!r}, the code's default is {code!r}"
        elif not literal and code:  # prose ("generated", "empty") stands only for no value
            wrong[name] = f"documented as {cell!r}, the code's default is {code!r}"
    assert wrong == {}, "fix the defaults in docs/settings.md"


def test_env_example_gives_each_setting_the_default_the_code_has(defaults):
    example = dict(EXAMPLE_VALUE.findall((ROOT / ".env.example").read_text()))
    wrong = {
        name: f"{value!r} in .env.example, the code's default is {as_environment(defaults[name])!r}"
        for name, value in example.items()
        if value != (as_environment(defaults[name]) or "")
    }
    assert wrong == {}, "fix the defaults in .env.example"


def test_email_is_off_until_a_host_is_set_and_tls_follows_ssl(load):
    settings = load()
    assert (settings["EMAIL_HOST"], settings["EMAIL_USE_TLS"]) == ("", True)
    ssl = load(EMAIL_HOST="smtp.example.com", EMAIL_PORT="465", EMAIL_USE_SSL="true")
    assert (ssl["EMAIL_HOST"], ssl["EMAIL_PORT"]) == ("smtp.example.com", 465)
    assert (ssl["EMAIL_USE_SSL"], ssl["EMAIL_USE_TLS"]) == (True, False)
    with pytest.raises(ImproperlyConfigured, match="EMAIL_USE_SSL and EMAIL_USE_TLS"):
        load(EMAIL_USE_SSL="true", EMAIL_USE_TLS="true")
