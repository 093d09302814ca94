from __future__ import annotations

import pytest
from django.db import OperationalError

from evalloop.web import health

pytestmark = pytest.mark.django_db


def test_health_answers_ok_without_a_log_in(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_head_and_refuses_writes(client):
    assert client.head("/health/").status_code == 200
    assert client.post("/health/").status_code == 405


def test_health_answers_503_with_retry_after_when_the_database_is_unreachable(client, monkeypatch):
    class Unreachable:
        def cursor(self) -> object:
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", Unreachable())
    response = client.get("/health/")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
