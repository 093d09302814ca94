"""A page that meets a busy database answers 503 in the layout, and nothing is written."""

from __future__ import annotations

from django.db import OperationalError, ProgrammingError
from django.test import override_settings

from evalloop.datasets import services
from evalloop.datasets.models import Dataset


def locked(*args, **kwargs):
    raise OperationalError("database is locked")


def test_a_busy_database_answers_the_503_page_with_retry_after(cast, login, monkeypatch):
    monkeypatch.setattr(services, "_check_name_free", locked)
    response = login(cast.editor).post("/datasets/", {"name": "Busy", "mode": "session"})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert b"Busy, try again" in response.content
    assert b"Team A" in response.content  # inside the layout
    assert not Dataset.objects.exists()


def test_the_503_page_renders_even_when_the_layout_cannot_read(cast, login, monkeypatch):
    from evalloop.notifications.models import NotificationQuerySet

    monkeypatch.setattr(services, "_check_name_free", locked)
    monkeypatch.setattr(NotificationQuerySet, "unread", locked)
    response = login(cast.editor).post("/datasets/", {"name": "Busy", "mode": "session"})
    assert response.status_code == 503
    assert b"Busy, try again" in response.content
    assert b"Team A" not in response.content


@override_settings(DEBUG=False)
def test_a_broken_database_is_still_a_server_error(cast, login, monkeypatch):
    def broken(*args, **kwargs):
        raise ProgrammingError("no such column")

    monkeypatch.setattr(services, "_check_name_free", broken)
    client = login(cast.editor)
    client.raise_request_exception = False
    response = client.post("/datasets/", {"name": "Broken", "mode": "session"})
    assert response.status_code == 500


def test_a_busy_database_while_checking_the_key_is_a_json_503(api, monkeypatch):
    from evalloop.teams.models import ApiKeyQuerySet

    client = api()
    monkeypatch.setattr(ApiKeyQuerySet, "active", locked)
    response = client.get("/team")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["detail"][0]["loc"] == []
