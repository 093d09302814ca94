"""Failed log-ins and API keys: past the limit, refused per account and per address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse

from evalloop.lib.addresses import address_group, client_address
from evalloop.teams import services
from evalloop.teams.models import AuthFailures
from evalloop.teams.tests.factories import PASSWORD

LIMIT = 50
HOME = "192.0.2.10"
ELSEWHERE = "198.51.100.20"


def log_in(email: str, password: str, address: str = HOME):  # type: ignore[no-untyped-def]
    client = Client(REMOTE_ADDR=address)
    return client.post(reverse("login"), {"username": email, "password": password})


def call_api(key: str, address: str = HOME):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=address).get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {key}")


def end_the_windows() -> None:
    """Move every window's start back by its length, as if the time had passed."""
    AuthFailures.objects.update(window_start=F("window_start") - timedelta(minutes=15))


# -- the login form --------------------------------------------------------------------------


def test_the_51st_log_in_to_an_account_is_refused_even_with_the_right_password(cast):
    for _ in range(LIMIT):
        assert log_in(cast.editor.email, "wrong").status_code == 200
    refused = log_in(cast.editor.email, PASSWORD, address=ELSEWHERE)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 14 * 60
    assert "Too many failed attempts for this account or from this address" in refused.text
    assert "Try again in 15 minutes" in refused.text
    assert "_auth_user_id" not in refused.client.session
    assert log_in(cast.viewer.email, PASSWORD, address=ELSEWHERE).status_code == 302


def test_the_51st_log_in_from_an_address_is_refused_for_every_account(cast):
    for n in range(LIMIT):
        log_in(f"guess{n}@a.example", "wrong")
    assert log_in(cast.editor.email, PASSWORD).status_code == 429
    assert log_in(cast.editor.email, PASSWORD, address=ELSEWHERE).status_code == 302


def test_once_the_window_has_passed_the_right_password_logs_in_again(cast):
    for _ in range(LIMIT):
        log_in(cast.editor.email, "wrong")
    assert log_in(cast.editor.email, PASSWORD).status_code == 429
    end_the_windows()
    assert log_in(cast.editor.email, PASSWORD).status_code == 302


def test_successful_log_ins_are_not_counted(cast):
    for _ in range(LIMIT + 1):
        assert log_in(cast.editor.email, PASSWORD).status_code == 302
    assert not AuthFailures.objects.exists()


def test_the_limit_and_the_window_are_settings(cast, settings):
    settings.EVALLOOP_AUTH_FAILURE_LIMIT = 2
    settings.EVALLOOP_AUTH_FAILURE_WINDOW_SECONDS = 60
    log_in(cast.editor.email, "wrong")
    log_in(cast.editor.email, "wrong")
    refused = log_in(cast.editor.email, PASSWORD)
    assert (refused.status_code, refused["Retry-After"]) == (429, "60")
    assert "Try again in 1 minute." in refused.text


def test_the_counts_keep_no_address_or_email_in_clear(cast):
    log_in(cast.editor.email, "wrong")
    stored = " ".join(AuthFailures.objects.values_list("key", flat=True))
    assert cast.editor.email not in stored
    assert HOME not in stored


# -- API keys -------------------------------------------------------------------------------


@pytest.fixture
def issued(cast):  # type: ignore[no-untyped-def]
    return services.create_api_key(team=cast.team, name="bot")


def test_the_51st_wrong_secret_for_a_key_is_refused_with_429_but_the_key_still_works(issued):
    forged = issued.plaintext[:-4] + "AAAA"
    for n in range(LIMIT):
        assert call_api(forged, address=f"203.0.113.{n + 1}").status_code == 401
    refused = call_api(forged, address=ELSEWHERE)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 14 * 60
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == ["header", "Authorization"]
    assert problem["msg"].startswith("Too many failed attempts")
    # Whoever saw the prefix cannot stop the chatbot's traffic: the real key is served.
    assert call_api(issued.plaintext, address=ELSEWHERE).status_code == 200


def test_the_51st_api_call_from_an_address_after_50_bad_keys_is_refused(issued):
    for n in range(LIMIT):
        assert call_api(f"not-a-key-{n}").status_code == 401
    assert call_api(issued.plaintext).status_code == 429
    assert call_api(issued.plaintext, address=ELSEWHERE).status_code == 200


def test_a_refused_key_works_again_once_the_window_has_passed(issued):
    for n in range(LIMIT):
        call_api(f"ev_{n}_wrong")
    assert call_api(issued.plaintext).status_code == 429
    end_the_windows()
    assert call_api(issued.plaintext).status_code == 200


def test_good_keys_are_not_counted(issued):
    for _ in range(LIMIT + 1):
        assert call_api(issued.plaintext).status_code == 200
    assert not AuthFailures.objects.exists()


# -- addresses ------------------------------------------------------------------------------


def test_behind_trusted_proxies_the_client_is_the_address_the_nearest_proxy_saw(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_address(request) == "10.0.0.2"
    settings.EVALLOOP_TRUSTED_PROXIES = 1
    assert client_address(request) == "203.0.113.7"
    settings.EVALLOOP_TRUSTED_PROXIES = 2
    assert client_address(request) == "6.6.6.6"


def test_an_ipv6_client_is_counted_by_its_64_bit_network():
    assert address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:bbbb::9")
    assert address_group("2001:db8:1:2::1") != address_group("2001:db8:1:3::1")
    assert address_group("192.0.2.1") == "192.0.2.1"
