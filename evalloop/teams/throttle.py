"""Refuse log-ins and API keys after too many failures, per account and per address.

Failures are counted in the database, so every web process on every machine sees the same
counts, in a fixed window per key that opens with its first failure. Once a key has
`EVALLOOP_AUTH_FAILURE_LIMIT` failures in its window, every attempt under that key is
refused, with the right password too, until the window ends. A log-in is checked against
both its keys (the account and the address) before the credentials are.

An API key is different: its secret is 32 random bytes, which no one guesses, while its
prefix is seen by every member of its team. Refusing the right key because its prefix had
failures would let anyone who saw the prefix stop a chatbot's traffic. So a key is checked
against its address before the credentials, and against its prefix only once it has failed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Max
from django.http import HttpRequest
from django.utils import timezone

from evalloop.lib import keys as credential_keys
from evalloop.lib.addresses import address_group, client_address
from evalloop.teams.models import AuthFailures


class Throttled(Exception):
    """Too many recent failures: the attempt was refused without looking at the credentials."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after  # seconds until the window ends
        minutes = math.ceil(retry_after / 60)
        super().__init__(
            "Too many failed attempts for this account or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


def _key(scope: str, value: str) -> str:
    return f"{scope}:{hashlib.sha256(value.encode()).hexdigest()}"


def login_keys(request: HttpRequest, email: str) -> list[str]:
    address = address_group(client_address(request))
    return [_key("login-account", email), _key("login-address", address)]


def api_keys(request: HttpRequest, token: str) -> tuple[list[str], list[str]]:
    """Answer the keys of an API-key attempt: the address's, and the key prefix's if it has one.

    Apart, because they are checked apart: see `evalloop.api.auth.ApiKeyAuth`.
    """
    address = address_group(client_address(request))
    parts = credential_keys.split(token)
    account = [_key("api-key", parts[0])] if parts else []
    return [_key("api-address", address)], account


def _window() -> timedelta:
    return timedelta(seconds=settings.EVALLOOP_AUTH_FAILURE_WINDOW_SECONDS)


def check(keys: Sequence[str]) -> None:
    """Raise Throttled when any of `keys` has used up its failures in its current window."""
    now = timezone.now()
    opened: datetime | None = AuthFailures.objects.filter(
        key__in=keys,
        window_start__gt=now - _window(),
        failures__gte=settings.EVALLOOP_AUTH_FAILURE_LIMIT,
    ).aggregate(latest=Max("window_start"))["latest"]
    if opened is not None:
        raise Throttled(max(1, math.ceil((opened + _window() - now).total_seconds())))


def record_failure(keys: Sequence[str]) -> None:
    now = timezone.now()
    for key in keys:
        _count(key, now)


def _count(key: str, now: datetime) -> None:
    # One UPDATE counts the failure atomically, however many processes fail at once.
    current = AuthFailures.objects.filter(key=key, window_start__gt=now - _window())
    if current.update(failures=F("failures") + 1):
        return
    # No open window for this key: drop every ended one (this key's too), open a new one.
    AuthFailures.objects.filter(window_start__lte=now - _window()).delete()
    _, created = AuthFailures.objects.get_or_create(
        key=key, defaults={"failures": 1, "window_start": now}
    )
    if not created:  # another process opened it meanwhile
        current.update(failures=F("failures") + 1)
