"""Cookies and headers with DEBUG off, over plain HTTP (http://127.0.0.1) and over HTTPS."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client
from django.urls import reverse

from evalloop.teams.tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[3]


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


def test_https_answers_carry_hsts_and_plain_http_ones_do_not(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    secure = client.get(reverse("login"), secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=3600"
    assert "Strict-Transport-Security" not in client.get(reverse("login"))


def test_pages_forbid_inline_scripts_and_styles(client, db):
    policy = client.get(reverse("login"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_has_inline_script_or_event_handler_attributes():
    roots = [ROOT / "templates", *ROOT.glob("evalloop/*/templates")]
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for root in roots
        for path in root.rglob("*.html")
        for match in INLINE_SCRIPT.finditer(path.read_text())
    ]
    assert found == []
