"""A rule whose filter is too long for a web address (the API takes it) opens, previews and
saves in the rule form: the form carries its filter in its body, not in the URL."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services
from evalloop.autopopulate.models import Rule
from evalloop.autopopulate.tests.traffic import session
from evalloop.web.middleware import MAX_URL_LENGTH

pytestmark = pytest.mark.django_db

TAGS = [f"{index:02d}-" + "t" * 203 for index in range(40)]  # 40 tags of 206 characters
LONG = [{"field": "tags", "op": "any_of", "value": TAGS}]
HIDDEN_F = re.compile(r'<input type="hidden" name="f" value="([^"]*)">')


@pytest.fixture
def rule(api, dataset, chatbot):
    body = {"chatbot": chatbot.pk, "filter": LONG, "start_at": timezone.now().isoformat()}
    response = api().post(f"/datasets/{dataset.pk}/rules", body)
    assert response.status_code == 201, response.json()
    return Rule.objects.get()


def url(name, rule):
    return reverse(f"autopopulate:{name}", args=[rule.dataset_id, rule.pk])


def posted_back(page, rule, **changes):
    """What the page's form sends as it stands: its fields and its filter."""
    form = page.context["form"]
    values = {name: form[name].value() for name in ("chatbot", "completion", "idle_minutes")}
    values |= {"sample_rate": form["sample_rate"].value(), "start_at": ""}
    values |= {"enabled": "on", "draft": "1"}
    rule_form = page.content.decode().split('id="rule-form"')[1].split("</form>")[0]
    values["f"] = [html.unescape(text) for text in HIDDEN_F.findall(rule_form)]
    return values | changes


def test_the_filter_is_too_long_for_a_web_address(rule):
    query = services.rule_filter(rule).to_querystring()
    assert len(f"{url('rule-edit', rule)}?{query}") > MAX_URL_LENGTH


def test_its_edit_page_opens_with_the_filter(cast, login, rule):
    page = login(cast.editor).get(url("rule-edit", rule))
    assert page.status_code == 200
    assert page.context["filter_state"].filter.to_json() == rule.filter
    assert TAGS[-1] in page.content.decode()


def test_it_saves_unchanged_and_changed_from_the_form(cast, login, rule):
    client = login(cast.editor)
    page = client.get(url("rule-edit", rule))
    unchanged = client.post(url("rule-edit", rule), posted_back(page, rule))
    assert unchanged.status_code == 302, unchanged.context["form"].errors
    assert Rule.objects.get().filter == rule.filter
    changed = client.post(url("rule-edit", rule), posted_back(page, rule, sample_rate="0.5"))
    assert changed.status_code == 302, changed.context["form"].errors
    saved = Rule.objects.get()
    assert (saved.filter, saved.sample_rate) == (rule.filter, 0.5)
    assert sorted(saved.filter[0]["value"]) == TAGS


def test_its_live_preview_counts_with_the_filter(cast, login, rule, chatbot):
    session(chatbot, tags=("other",))  # matches no tag of the filter (tags hold 100 characters)
    client = login(cast.editor)
    page = client.get(url("rule-edit", rule))
    with_filter = client.post(url("rule-preview", rule), posted_back(page, rule))
    without = client.post(url("rule-preview", rule), posted_back(page, rule, f=[]))
    assert 'data-testid="preview-count">0<' in with_filter.content.decode()
    assert 'data-testid="preview-count">1<' in without.content.decode()
