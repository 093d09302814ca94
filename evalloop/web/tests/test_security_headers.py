"""Cookies and headers with DEBUG off, over plain HTTP (http://127.0.0.1) and over HTTPS."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from evalloop.teams.tests.factories import PASSWORD


def log_in(*, secure: bool):  # type: ignore[no-untyped-def]
    client = Client()
    client.get(reverse("login"), secure=secure)
    data = {"username": "editor@a.example", "password": PASSWORD}
    return client.post(reverse("login"), data, secure=secure)


def test_over_plain_http_the_login_cookies_are_ordinary_so_logging_in_works(cast):
    response = log_in(secure=False)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] == ""
    assert response.cookies["csrftoken"]["secure"] == ""


def test_over_https_every_cookie_is_secure(cast):
    response = log_in(secure=True)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["csrftoken"]["secure"] is True


def test_cookies_can_be_made_secure_on_plain_http_too(cast, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    assert log_in(secure=False).cookies["sessionid"]["secure"] is True
