"""The rule form: the filter from the builder's URL, validation, live preview, backfill
confirmation; and a rule's page with its tick history and "Run now"."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services
from evalloop.autopopulate.models import Rule, Tick
from evalloop.autopopulate.tests.traffic import session
from evalloop.autopopulate.tick import tick_rule
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.runs.tests import scenes

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]
VIP_QUERY = "f=tags:any_of:vip"
VIP_CLAUSE = "tags:any_of:vip"
HTMX = {"HTTP_HX_REQUEST": "true"}


def new_rule(dataset, query=""):
    path = reverse("autopopulate:rule-create", args=[dataset.pk])
    return f"{path}?{query}" if query else path


def preview_new(dataset, query=""):
    path = reverse("autopopulate:rule-preview-new", args=[dataset.pk])
    return f"{path}?{query}" if query else path


def rule_url(name, rule, query=""):
    path = reverse(f"autopopulate:{name}", args=[rule.dataset_id, rule.pk])
    return f"{path}?{query}" if query else path


def fields(chatbot, **changes):
    values = {
        "chatbot": chatbot.pk,
        "completion": "ended",
        "idle_minutes": 30,
        "sample_rate": 1,
        "start_at": "",
        "enabled": "on",
    }
    return {key: value for key, value in (values | changes).items() if value is not None}


def local_minutes(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


# Creating


def test_an_editor_creates_a_rule_with_the_builders_filter(cast, login, dataset, chatbot):
    client = login(cast.editor)
    page = client.get(new_rule(dataset, VIP_QUERY)).content.decode()
    assert "tags any of vip" in page  # the builder's chip
    assert "session mode" in page
    assert 'name="mode"' not in page

    before = timezone.now()
    sent = fields(chatbot, completion="idle", f=VIP_CLAUSE)
    response = client.post(new_rule(dataset, VIP_QUERY), sent)

    assert response.status_code == 302
    assert response["Location"].endswith(f"/datasets/{dataset.pk}/#auto-population-rules")
    rule = Rule.objects.get()
    assert (rule.dataset, rule.chatbot, rule.filter) == (dataset, chatbot, VIP)
    assert (rule.completion, rule.idle_minutes, rule.enabled) == ("idle", 30, True)
    assert rule.start_at >= before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"sample_rate": 0}, "sample_rate", "Must be more than 0 and at most 1."),
        ({"sample_rate": 1.5}, "sample_rate", "Must be more than 0 and at most 1."),
        ({"sample_rate": "nan"}, "sample_rate", "Enter a number."),
        ({"completion": "later"}, "completion", "Select a valid choice"),
        ({"idle_minutes": 0}, "idle_minutes", "greater than or equal"),
        ({"start_at": "2999-01-01T00:00"}, "start_at", "Must not be in the future."),
        ({"start_at": "yesterday"}, "start_at", "Enter a valid date/time."),
    ],
)
def test_bad_fields_are_named_beside_the_field(
    cast, login, dataset, chatbot, changes, field, message
):
    response = login(cast.editor).post(new_rule(dataset), fields(chatbot, **changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert not Rule.objects.exists()


def test_a_chatbot_of_another_team_is_refused(cast, login, dataset):
    other = ChatbotFactory(team=cast.other_team)
    response = login(cast.editor).post(new_rule(dataset), fields(other))
    assert "chatbot" in response.context["form"].errors
    assert not Rule.objects.exists()


def test_a_bad_filter_clause_is_named_and_nothing_is_created(cast, login, dataset, chatbot):
    sent = fields(chatbot, f=[VIP_CLAUSE, "nope:eq:1"])
    response = login(cast.editor).post(new_rule(dataset), sent)
    assert response.status_code == 200
    text = " ".join(response.context["form"].non_field_errors())
    assert "Fix the filter first" in text
    assert 'clause 2 (nope): unknown field "nope"' in text
    assert not Rule.objects.exists()


def test_a_viewer_cannot_open_or_post_the_form(cast, login, dataset, chatbot):
    client = login(cast.viewer)
    assert client.get(new_rule(dataset)).status_code == 403
    assert client.post(new_rule(dataset), fields(chatbot)).status_code == 403
    assert not Rule.objects.exists()


def test_a_viewer_may_preview_as_through_the_api(cast, login, make_rule, dataset, chatbot):
    rule = make_rule()
    session(chatbot, tags=("vip",))
    client = login(cast.viewer)
    new = client.post(preview_new(dataset), fields(chatbot, f=VIP_CLAUSE))
    saved = client.post(rule_url("rule-preview", rule), fields(chatbot, sample_rate=0.5))
    assert 'data-testid="preview-count">1<' in new.content.decode()
    assert saved.status_code == 200
    assert Rule.objects.get() == rule
    assert rule.sample_rate == Rule.objects.get().sample_rate == 1.0
    assert login(cast.outsider).post(preview_new(dataset), fields(chatbot)).status_code == 404


def test_the_builder_carries_the_form_along(cast, login, dataset, chatbot):
    """Adding a clause reloads the page with what the form held (`draft` in the URL)."""
    client = login(cast.editor)
    query = f"draft=1&chatbot={chatbot.pk}&completion=immediate&idle_minutes=45"
    query += "&sample_rate=0.5&start_at="  # a carried form holds every field, blank or not
    added = client.get(new_rule(dataset, f"{query}&field=tags&op=any_of&value=vip&add=1"))
    assert added.status_code == 302
    params = parse_qs(urlsplit(added["Location"]).query)
    assert params["f"] == ["tags:any_of:vip"]
    assert params["completion"] == ["immediate"]

    form = client.get(added["Location"]).context["form"]
    assert form["completion"].value() == "immediate"
    assert form["idle_minutes"].value() == "45"
    assert form["sample_rate"].value() == "0.5"
    assert not form["enabled"].value()


# The live preview


def test_the_form_page_shows_the_preview_of_its_filter(cast, login, dataset, chatbot):
    session(chatbot, tags=("vip",))
    session(chatbot)
    client = login(cast.editor)
    everything = client.get(new_rule(dataset)).content.decode()
    assert 'data-testid="preview-count">2<' in everything
    vip = client.get(new_rule(dataset, VIP_QUERY)).content.decode()
    assert 'data-testid="preview-count">1<' in vip
    assert f'hx-post="{preview_new(dataset)}"' in vip
    assert f'<input type="hidden" name="f" value="{VIP_CLAUSE}">' in vip


def test_the_preview_answers_a_partial_with_count_and_examples(cast, login, dataset, chatbot):
    vip = session(chatbot, tags=("vip",))
    session(chatbot)
    sent = fields(chatbot, f=VIP_CLAUSE)
    response = login(cast.editor).post(preview_new(dataset), sent, **HTMX)
    body = response.content.decode()
    assert "<html" not in body
    assert 'data-testid="preview-count">1<' in body
    assert f'href="/chatbots/support/sessions/{vip.pk}/"' in body
    assert not Rule.objects.exists()


def test_an_unsaved_sampled_rule_says_its_count_is_an_estimate(cast, login, dataset, chatbot):
    for _ in range(4):
        session(chatbot)
    body = (
        login(cast.editor)
        .post(preview_new(dataset), fields(chatbot, sample_rate=0.5))
        .content.decode()
    )
    assert 'data-testid="preview-count">about 2<' in body
    assert "An estimate" in body


def test_the_preview_says_what_keeps_it_from_counting(cast, login, dataset, chatbot):
    body = (
        login(cast.editor)
        .post(preview_new(dataset), fields(chatbot, sample_rate=7, f="nope:eq:1"))
        .content.decode()
    )
    assert "No preview until the form is complete" in body
    assert "Sample rate" in body


def test_the_preview_of_a_saved_rule_leaves_out_its_ledger(cast, login, make_rule, chatbot):
    rule = make_rule()
    session(chatbot)
    tick_rule(rule_id=rule.pk)
    session(chatbot)
    body = (
        login(cast.editor)
        .post(rule_url("rule-preview", rule), fields(chatbot, start_at=None))
        .content.decode()
    )
    assert 'data-testid="preview-count">1<' in body


# Backfill confirmation


def test_a_past_start_asks_first_and_creates_nothing(cast, login, dataset, chatbot):
    scenes.config(cast.team, name="Judge", dataset=dataset, auto_run_on_append=True)
    old = session(chatbot)
    old.created_at = timezone.now() - timedelta(days=20)
    old.save(update_fields=["created_at"])
    session(chatbot)
    start = local_minutes(timezone.now() - timedelta(days=30))
    client = login(cast.editor)

    asked = client.post(new_rule(dataset), fields(chatbot, start_at=start))

    assert asked.status_code == 200
    body = asked.content.decode()
    assert 'data-testid="backfill-count">2<' in body
    assert 'data-testid="backfill-evaluations">2<' in body
    assert "Judge" in body
    assert not Rule.objects.exists()

    confirmed = fields(chatbot, start_at=start, confirm=asked.context["confirm"]["fingerprint"])
    response = client.post(new_rule(dataset), confirmed)

    assert response.status_code == 302
    assert Rule.objects.get().start_at < timezone.now() - timedelta(days=29)


def test_a_confirmation_holds_only_for_what_was_shown(cast, login, dataset, chatbot):
    start = local_minutes(timezone.now() - timedelta(days=3))
    client = login(cast.editor)
    asked = client.post(new_rule(dataset), fields(chatbot, start_at=start))
    fingerprint = asked.context["confirm"]["fingerprint"]
    earlier = local_minutes(timezone.now() - timedelta(days=9))
    again = client.post(new_rule(dataset), fields(chatbot, start_at=earlier, confirm=fingerprint))
    assert again.status_code == 200
    assert "confirm-backfill" in again.content.decode()
    assert not Rule.objects.exists()


def test_without_an_auto_running_config_no_evaluations_are_announced(cast, login, dataset, chatbot):
    session(chatbot)
    start = local_minutes(timezone.now() - timedelta(days=3))
    body = login(cast.editor).post(new_rule(dataset), fields(chatbot, start_at=start))
    assert 'data-testid="backfill-count">1<' in body.content.decode()
    assert "backfill-evaluations" not in body.content.decode()


# Editing


def test_editing_starts_from_the_rules_values_and_filter(cast, login, make_rule):
    rule = make_rule(filter=VIP, sample_rate=0.25, enabled=False)
    response = login(cast.editor).get(rule_url("rule-edit", rule))
    assert response.status_code == 200
    assert response.context["filter_state"].filter.to_json() == VIP
    assert "tags any of vip" in response.content.decode()  # the builder's chip
    assert f'<input type="hidden" name="f" value="{VIP_CLAUSE}">' in response.content.decode()
    form = response.context["form"]
    assert form["sample_rate"].value() == 0.25
    assert not form["enabled"].value()


def test_the_builders_url_wins_over_the_rules_filter(cast, login, make_rule, chatbot):
    rule = make_rule(filter=VIP)
    query = f"draft=1&chatbot={chatbot.pk}&sample_rate=0.5&f=tags:any_of:other"
    response = login(cast.editor).get(rule_url("rule-edit", rule, query))
    assert response.context["filter_state"].filter.encoded() == ["tags:any_of:other"]
    assert response.context["form"]["sample_rate"].value() == "0.5"


def test_removing_a_rules_clauses_down_to_none_leaves_no_filter(cast, login, make_rule, chatbot):
    """Without JavaScript, a chip's link carries `draft`: the removed clause stays removed."""
    rule = make_rule(filter=[*VIP, {"field": "channel", "op": "eq", "value": "web"}])
    client = login(cast.editor)
    page = client.get(rule_url("rule-edit", rule))
    first = page.context["filter_state"].chips[0].remove_url
    assert parse_qs(urlsplit(first).query) == {"draft": ["1"], "f": ["channel:eq:web"]}
    page = client.get(first)
    assert page.context["filter_state"].filter.encoded() == ["channel:eq:web"]
    last = page.context["filter_state"].chips[0].remove_url
    page = client.get(last)
    assert page.status_code == 200
    assert page.context["filter_state"].chips == []
    assert not page.context["filter_state"].filter
    assert page.context["form"]["sample_rate"].value() == 1.0  # the rule's own values


def test_a_bare_draft_starts_from_the_rules_values(cast, login, make_rule, chatbot):
    rule = make_rule(filter=VIP, sample_rate=0.25, completion="idle", idle_minutes=45)
    client = login(cast.editor)
    form = client.get(rule_url("rule-edit", rule, "draft=1")).context["form"]
    assert form["enabled"].value() is True
    assert form["sample_rate"].value() == 0.25
    assert form["completion"].value() == "idle"
    assert form["idle_minutes"].value() == 45
    partial = client.get(rule_url("rule-edit", rule, "draft=1&sample_rate=0.5")).context["form"]
    assert partial["sample_rate"].value() == "0.5"
    assert partial["enabled"].value() is True  # only a whole carried form switches it off
    assert partial["completion"].value() == "idle"


def test_a_post_takes_its_own_filter_not_the_urls(cast, login, make_rule, chatbot):
    rule = make_rule(start_at=timezone.now())  # no backfill to confirm
    sent = fields(chatbot, start_at=local_minutes(rule.start_at), f=VIP_CLAUSE)
    response = login(cast.editor).post(rule_url("rule-edit", rule, "f=nope:eq:1"), sent)
    assert response.status_code == 302, response.context["form"].errors
    rule.refresh_from_db()
    assert rule.filter == VIP


def test_switching_a_rule_off_in_the_form_keeps_its_window(cast, login, make_rule, chatbot):
    rule = make_rule(filter=VIP)
    session(chatbot, tags=("vip",))
    tick_rule(rule_id=rule.pk)
    rule.refresh_from_db()
    watermark = rule.watermark

    response = login(cast.editor).post(
        rule_url("rule-edit", rule),
        fields(rule.chatbot, start_at=local_minutes(rule.start_at), enabled=None, f=VIP_CLAUSE),
    )

    assert response.status_code == 302, response.context["form"].errors
    rule.refresh_from_db()
    assert (rule.enabled, rule.watermark, rule.filter) == (False, watermark, VIP)


def test_changing_the_filter_of_a_rule_started_in_the_past_asks_first(
    cast, login, make_rule, chatbot
):
    rule = make_rule(filter=VIP)
    session(chatbot)
    client = login(cast.editor)
    start = local_minutes(rule.start_at)

    asked = client.post(rule_url("rule-edit", rule, "draft=1"), fields(chatbot, start_at=start))

    assert "confirm-backfill" in asked.content.decode()
    rule.refresh_from_db()
    assert rule.filter == VIP
    fingerprint = asked.context["confirm"]["fingerprint"]
    done = client.post(
        rule_url("rule-edit", rule, "draft=1"),
        fields(chatbot, start_at=start, confirm=fingerprint),
    )
    assert done.status_code == 302
    rule.refresh_from_db()
    assert (rule.filter, rule.watermark) == ([], None)


def test_a_rule_with_any_rate_the_api_takes_saves_unchanged_from_the_form(
    cast, login, api, dataset, chatbot
):
    created = api().post(
        f"/datasets/{dataset.pk}/rules", {"chatbot": chatbot.pk, "sample_rate": 5e-05}
    )
    rule = Rule.objects.get(pk=created.json()["id"])
    client = login(cast.editor)
    form = client.get(rule_url("rule-edit", rule)).context["form"]
    shown = {name: form[name].value() for name in ("completion", "idle_minutes")}
    sent = fields(chatbot, **shown, sample_rate=form["sample_rate"].value())
    response = client.post(rule_url("rule-edit", rule, "draft=1"), sent | {"start_at": ""})
    assert response.status_code == 302, response.context["form"].errors
    rule.refresh_from_db()
    assert rule.sample_rate == 5e-05


def test_another_teams_rule_cannot_be_edited(cast, login, make_rule, chatbot):
    rule = make_rule()
    client = login(cast.outsider)
    assert client.post(rule_url("rule-edit", rule, "draft=1"), fields(chatbot)).status_code == 404


# A rule's page


def test_the_rule_page_shows_settings_and_tick_history(cast, login, make_rule, chatbot):
    rule = make_rule(filter=VIP, completion="idle", idle_minutes=45)
    Tick.objects.create(rule=rule, status="error", error="it broke", duration_ms=12, scanned=3)
    body = login(cast.viewer).get(rule_url("rule-detail", rule)).content.decode()
    assert "tags any of vip" in body
    assert "quiet for 45 minutes" in body
    assert "it broke" in body
    assert "12 ms" in body
    assert "Run now" not in body


def test_run_now_runs_one_tick(cast, login, make_rule, chatbot):
    rule = make_rule()
    session(chatbot)
    client = login(cast.editor)
    response = client.post(rule_url("rule-run", rule), follow=True)
    assert "Tick done: 1 appended" in response.content.decode()
    assert rule.rows.count() == 1
    assert Tick.objects.filter(rule=rule).count() == 1


def test_run_now_on_a_disabled_rule_says_nothing_ran(cast, login, make_rule):
    rule = make_rule(enabled=False)
    response = login(cast.editor).post(rule_url("rule-run", rule), follow=True)
    assert "nothing was run" in response.content.decode()
    assert not Tick.objects.exists()


def test_a_draft_needs_a_chatbot_and_knows_only_rule_fields(dataset, chatbot):
    with pytest.raises(ValidationError) as missing:
        services.draft_rule(dataset=dataset, sample_rate=0.5)
    assert missing.value.message_dict == {"chatbot": ["This field is required."]}
    with pytest.raises(ValidationError) as unknown:
        services.draft_rule(dataset=dataset, chatbot=chatbot, mode="message")
    assert list(unknown.value.message_dict) == ["mode"]
