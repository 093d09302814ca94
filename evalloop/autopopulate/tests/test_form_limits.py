"""The rule form reads no more filter than a filter can hold: more clauses, or longer ones,
are refused unread, and what is refused is not echoed back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalloop.autopopulate.models import Rule
from evalloop.filters.builder import MAX_CLAUSE_TEXT

pytestmark = pytest.mark.django_db


def fields(chatbot, clauses):
    values = {"chatbot": chatbot.pk, "completion": "ended", "idle_minutes": 30}
    return values | {"sample_rate": 1, "start_at": "", "enabled": "on", "f": clauses}


def test_a_preview_of_thousands_of_clauses_is_refused_unread(cast, login, dataset, chatbot):
    url = reverse("autopopulate:rule-preview-new", args=[dataset.pk])
    clauses = [f"tags:any_of:t{index}" for index in range(5000)]
    response = login(cast.viewer).post(url, fields(chatbot, clauses))
    assert response.status_code == 200
    page = response.content.decode()
    assert "a filter has at most 50 clauses; this one has 5,000" in page
    assert 'data-testid="preview-count"' not in page
    assert len(page) < 20_000


def test_saving_thousands_of_clauses_is_refused_and_the_page_stays_small(
    cast, login, dataset, chatbot
):
    url = reverse("autopopulate:rule-create", args=[dataset.pk])
    clauses = [f"tags:any_of:t{index}" for index in range(5000)]
    response = login(cast.editor).post(url, fields(chatbot, clauses))
    assert response.status_code == 200
    assert response.context["filter_state"].chips == []
    assert "this one has 5,000" in response.content.decode()
    assert len(response.content) < 100_000
    assert not Rule.objects.exists()


def test_long_clauses_that_cannot_be_read_are_not_echoed(cast, login, dataset, chatbot):
    url = reverse("autopopulate:rule-create", args=[dataset.pk])
    for clause in ["tags:any_of:" + "x" * 100_000, "y" * (MAX_CLAUSE_TEXT + 1)]:
        response = login(cast.editor).post(url, fields(chatbot, [clause] * 30))
        assert response.status_code == 200
        page = response.content.decode()
        assert "the filter was not read" in page
        assert "x" * 100 not in page
        assert "y" * 100 not in page
        assert len(page) < 100_000
    assert not Rule.objects.exists()
