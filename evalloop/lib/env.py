"""Typed readers for environment settings; a malformed value stops start-up with its name."""

from __future__ import annotations

import math
import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# Every variable read from the process environment, so a test can check each one is documented.
READ: set[str] = set()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


class Env:
    """Reads settings from a mapping (the process environment by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        # Only the real environment is recorded: a test's own mapping must not count as read.
        self.read = READ if environ is None else set()

    def _raw(self, name: str) -> str | None:
        self.read.add(name)
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def string(self, name: str, default: str | None = None) -> str | None:
        raw = self._raw(name)
        return default if raw is None else raw

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        """A finite decimal number, e.g. `0.5`."""
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
        if not math.isfinite(value):
            raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number.")
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{name}={value:g} must be at least {minimum:g}.")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw not in choices:
            raise ImproperlyConfigured(f"{name}={raw!r} must be one of: {', '.join(choices)}.")
        return raw

    def time_zone(self, name: str, default: str) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw not in zoneinfo.available_timezones():
            raise ImproperlyConfigured(f"{name}={raw!r} is not a time zone (e.g. Europe/Paris).")
        return raw

    def csv_list(self, name: str, default: list[str]) -> list[str]:
        raw = self._raw(name)
        if raw is None:
            return list(default)
        return [item.strip() for item in raw.split(",") if item.strip()]

    def path(self, name: str, default: str) -> Path:
        raw = self._raw(name)
        return Path(raw if raw is not None else default).expanduser().resolve()

    def database(self, name: str, *, sqlite_path: Path) -> dict[str, Any]:
        """Answer Django's settings for the database at URL `name`, or SQLite at `sqlite_path`."""
        raw = self._raw(name)
        if raw is None:
            return sqlite_database(sqlite_path)
        try:
            config = dict(dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
        if config.get("ENGINE") not in _DATABASE_ENGINES:
            raise ImproperlyConfigured(f"{name} must be a postgres:// or sqlite:// URL.")
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name} names no database (add /<name> to the URL).")
        if config["ENGINE"] == "django.db.backends.sqlite3":
            return sqlite_database(Path(str(config["NAME"])))
        return config

    def broker_url(self, name: str) -> str | None:
        """Answer a Redis URL, or None for the embedded file-system broker."""
        raw = self._raw(name)
        if raw is None or raw == "filesystem://":
            return None
        parts = urlsplit(raw)
        if parts.scheme not in {"redis", "rediss"}:
            raise ImproperlyConfigured(f"{name} must be a redis:// or rediss:// URL (or unset).")
        try:
            host, _port = parts.hostname, parts.port  # urlsplit checks the port when asked
        except ValueError:
            raise ImproperlyConfigured(f"{name} has a malformed port.") from None
        if not host:
            raise ImproperlyConfigured(f"{name} names no host.")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ImproperlyConfigured(f"{name}: the path must be a database number, e.g. /0.")
        return raw


# How long a SQLite writer waits for the lock before "database is locked" (a 503 with
# Retry-After in a request, a retry in background work). Every write transaction is kept
# well under a second (bulk work commits in chunks), so 5 s lets a write queue behind
# several others, yet answers long before gunicorn's 30 s worker timeout, and leaves a
# request that waits on two writes (the API key's last use, then its own) time to answer.
SQLITE_BUSY_TIMEOUT_SECONDS = 5


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "evalloop.lib.sqlite",
        "NAME": path,
        "OPTIONS": {
            # WAL lets the web server read while a worker writes; IMMEDIATE takes the
            # write lock up front so two writers queue on the timeout instead of
            # failing with "database is locked" on lock upgrade.
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
        },
    }


# Placeholders from our own examples (docs/deployment.md) and common ones: never secret,
# however long.
PLACEHOLDER_SECRET_KEYS = frozenset(
    {
        "at least 50 random characters, the same on every machine",
        "a long random string, the same everywhere",
        "change-me-to-a-long-random-string-of-at-least-fifty-characters",
        "replace-me-with-a-long-random-string-of-at-least-fifty-characters",
    }
)
_HOW_TO_MAKE_ONE = (
    "set at least 50 random characters, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, or unset it to have "
    "one generated into the data dir"
)


def secret_key(*, configured: str | None, debug: bool, data_dir: Path) -> str:
    """Answer the configured key (refusing a weak one outside DEBUG), or the data dir's own."""
    if configured:
        if not debug:
            check_secret_key(configured)
        return configured
    return generated_secret_key(data_dir)


def check_secret_key(key: str) -> None:
    """Refuse a key that signs nothing safely: Django's own rules, plus known placeholders."""
    problem = None
    if key.startswith("django-insecure-"):
        problem = "it starts with 'django-insecure-', the mark of a key made for development"
    elif key.strip().lower() in PLACEHOLDER_SECRET_KEYS:
        problem = "it is a placeholder from an example"
    elif len(key) < 50:
        problem = f"it has {len(key)} characters"
    elif len(set(key)) < 5:
        problem = f"it uses only {len(set(key))} distinct characters"
    if problem:
        raise ImproperlyConfigured(f"SECRET_KEY is too weak ({problem}): {_HOW_TO_MAKE_ONE}.")


def generated_secret_key(data_dir: Path) -> str:
    """Answer the key generated once into `data_dir`, which every process on this machine shares."""
    from django.core.management.utils import get_random_secret_key

    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".secret_key.{os.getpid()}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(get_random_secret_key())
        try:
            # Linking is atomic: when processes start together, the first key wins whole.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
