"""The dataset page's rules section and its controls: status, errors, progress, delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services
from evalloop.autopopulate.models import Rule, Status
from evalloop.autopopulate.tests.traffic import session
from evalloop.autopopulate.tick import tick_rule
from evalloop.datasets.models import Row
from evalloop.teams import flags
from evalloop.teams import services as teams

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]
BROKEN = "OperationalError: the database went away"
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, rule):
    return reverse(f"autopopulate:{name}", args=[rule.dataset_id, rule.pk])


def dataset_page(dataset):
    return reverse("datasets:dataset-detail", args=[dataset.pk])


def section(dataset):
    return reverse("autopopulate:rules-section", args=[dataset.pk])


def failing(rule):
    Rule.objects.filter(pk=rule.pk).update(
        last_status=Status.ERROR,
        last_error=BROKEN,
        last_run_at=timezone.now(),
        consecutive_failures=2,
        watermark=timezone.now(),
    )
    return rule


def with_rows(make_rule, chatbot, **options):
    """A rule that took one session, so it has one row."""
    rule = make_rule(**options)
    session(chatbot, tags=("vip",))
    tick_rule(rule_id=rule.pk)
    assert Row.objects.filter(rule=rule).count() == 1
    return rule


def test_the_dataset_page_lists_each_rule_with_its_status(cast, login, make_rule, chatbot):
    rule = with_rows(make_rule, chatbot, filter=VIP)
    quiet = make_rule(enabled=False, start_at=timezone.now())
    body = login(cast.viewer).get(dataset_page(rule.dataset)).content.decode()
    assert f'id="rule-{rule.pk}"' in body
    assert f'id="rule-{quiet.pk}"' in body
    assert "Support" in body
    assert "tags any of vip" in body
    assert 'data-testid="rows-contributed">1 row<' in body
    assert "success" in body
    assert "just now" in body
    assert "disabled" in body
    assert "not run yet" in body


def test_a_failing_rule_shows_its_error_under_it(cast, login, make_rule):
    rule = failing(make_rule())
    body = login(cast.viewer).get(section(rule.dataset)).content.decode()
    entry = body[body.index(f'id="rule-{rule.pk}"') :]
    entry = entry[: entry.index("</li>")]
    assert BROKEN in entry
    assert "2 times in a row" in entry


def test_the_section_polls_while_visible(cast, login, dataset):
    body = login(cast.viewer).get(dataset_page(dataset)).content.decode()
    assert f'hx-get="{section(dataset)}"' in body
    assert 'hx-trigger="every 10s"' in body
    assert "data-poll-while-visible" in body


def test_the_section_takes_the_same_queries_whatever_the_number_of_rules(
    cast, login, make_rule, chatbot, django_assert_num_queries
):
    client = login(cast.editor)
    first = make_rule()
    client.get(section(first.dataset))
    session(chatbot)
    with django_assert_num_queries(8) as few:
        client.get(section(first.dataset))
    for index in range(6):
        if index % 2:
            failing(make_rule(filter=VIP))
        else:
            make_rule()
        session(chatbot, tags=("vip",))
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(section(first.dataset))
    assert response.content.decode().count('data-testid="rule"') == 7
    assert response.content.decode().count("Backfilling") >= 3


def test_the_dataset_page_takes_the_same_queries_whatever_the_number_of_rules(
    cast, login, make_rule, dataset, django_assert_num_queries
):
    client = login(cast.editor)
    make_rule()
    client.get(dataset_page(dataset))
    with django_assert_num_queries(13) as few:
        client.get(dataset_page(dataset))
    for _ in range(5):
        failing(make_rule())
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(dataset_page(dataset))


def test_a_rule_still_backfilling_shows_its_progress(cast, login, make_rule, chatbot):
    rule = make_rule(start_at=timezone.now() - timedelta(days=2))
    earlier = timezone.now() - timedelta(minutes=10)
    for done in [session(chatbot) for _ in range(2)]:
        done.changed_at = earlier
        done.save(update_fields=["changed_at"])
    session(chatbot)
    # A tick stopped by its cap: the watermark short of the tick's cut-off.
    Rule.objects.filter(pk=rule.pk).update(
        watermark=earlier, last_run_at=timezone.now(), last_status=Status.SUCCESS
    )
    body = login(cast.viewer).get(section(rule.dataset)).content.decode()
    assert "Backfilling: 2 of ~3 sessions" in body


def test_a_rule_through_its_window_shows_no_progress(cast, login, make_rule, chatbot):
    rule = make_rule(start_at=timezone.now() - timedelta(days=2))
    session(chatbot)
    tick_rule(rule_id=rule.pk)
    body = login(cast.viewer).get(section(rule.dataset)).content.decode()
    assert "Backfilling" not in body


# Controls


def test_a_viewer_sees_no_controls_and_cannot_use_them(cast, login, make_rule):
    rule = make_rule()
    client = login(cast.viewer)
    body = client.get(dataset_page(rule.dataset)).content.decode()
    assert url("rule-delete", rule) not in body
    assert url("rule-edit", rule) not in body
    assert "Add a rule" not in body
    assert client.post(url("rule-delete", rule)).status_code == 403
    assert client.delete(url("rule-delete", rule), **HTMX).status_code == 403
    assert client.post(url("rule-enabled", rule), {"enabled": "off"}).status_code == 403
    assert client.post(url("rule-run", rule)).status_code == 403
    assert Rule.objects.get().enabled


def test_an_editor_sees_the_controls(cast, login, make_rule):
    rule = make_rule()
    body = login(cast.editor).get(dataset_page(rule.dataset)).content.decode()
    assert f'hx-delete="{url("rule-delete", rule)}"' in body
    assert f'hx-target="#rule-{rule.pk}"' in body
    assert "The rows it added stay" in body
    assert url("rule-edit", rule) in body


def test_deleting_by_htmx_removes_the_whole_entry_banner_included(cast, login, make_rule, chatbot):
    rule = failing(with_rows(make_rule, chatbot))
    client = login(cast.editor)
    assert BROKEN in client.get(section(rule.dataset)).content.decode()

    response = client.delete(url("rule-delete", rule), **HTMX)

    assert response.status_code == 200
    assert response.content == b""  # swapped over the rule's <li>, banner and all
    assert not Rule.objects.filter(pk=rule.pk).exists()
    assert Row.objects.filter(dataset=rule.dataset).count() == 1
    after = client.get(section(rule.dataset)).content.decode()
    assert BROKEN not in after
    assert f'id="rule-{rule.pk}"' not in after


def test_deleting_by_a_plain_form_redirects_to_the_dataset(cast, login, make_rule, chatbot):
    rule = with_rows(make_rule, chatbot)
    client = login(cast.editor)
    ask = client.get(url("rule-delete", rule))
    assert "The rows it added stay in the dataset" in ask.content.decode()

    response = client.post(url("rule-delete", rule))

    assert response.status_code == 302
    assert response["Location"].startswith(dataset_page(rule.dataset))
    assert not Rule.objects.filter(pk=rule.pk).exists()
    [row] = Row.objects.filter(dataset=rule.dataset)
    assert row.rule is None


def test_deleting_a_rule_already_gone_is_no_error(cast, login, make_rule):
    rule = make_rule()
    client = login(cast.editor)
    Rule.objects.filter(pk=rule.pk).delete()
    assert client.post(url("rule-delete", rule)).status_code == 302
    response = client.delete(url("rule-delete", rule), **HTMX)
    assert (response.status_code, response.content) == (200, b"")
    assert client.get(url("rule-delete", rule)).status_code == 404


def test_switching_off_by_htmx_answers_the_entry(cast, login, make_rule):
    rule = failing(make_rule())
    client = login(cast.editor)
    response = client.post(url("rule-enabled", rule), {"enabled": "off"}, **HTMX)
    body = response.content.decode()
    assert body.strip().startswith(f'<li class="rule" id="rule-{rule.pk}"')
    assert "disabled" in body
    assert BROKEN in body
    rule.refresh_from_db()
    assert not rule.enabled


def test_a_rule_deleted_while_switched_by_htmx_answers_no_entry(
    cast, login, make_rule, monkeypatch
):
    rule = make_rule()
    switch = services.set_enabled

    def switch_then_delete(**kwargs):
        switched = switch(**kwargs)
        Rule.objects.filter(pk=switched.pk).delete()  # another request deletes it meanwhile
        return switched

    monkeypatch.setattr(services, "set_enabled", switch_then_delete)
    response = login(cast.editor).post(url("rule-enabled", rule), {"enabled": "off"}, **HTMX)
    assert response.status_code == 200
    assert response.content == b""
    assert not Rule.objects.exists()


def test_switching_on_by_a_plain_form_clears_the_failures(cast, login, make_rule):
    rule = failing(make_rule(enabled=False))
    response = login(cast.editor).post(url("rule-enabled", rule), {"enabled": "on"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.enabled, rule.consecutive_failures) == (True, 0)


# Flag and tenancy


def every_page(client, rule):
    dataset = rule.dataset
    return [
        client.get(section(dataset)),
        client.get(reverse("autopopulate:rule-create", args=[dataset.pk])),
        client.post(reverse("autopopulate:rule-preview-new", args=[dataset.pk])),
        client.get(url("rule-detail", rule)),
        client.get(url("rule-edit", rule)),
        client.post(url("rule-preview", rule)),
        client.post(url("rule-enabled", rule), {"enabled": "off"}),
        client.post(url("rule-run", rule)),
        client.get(url("rule-delete", rule)),
        client.post(url("rule-delete", rule)),
        client.delete(url("rule-delete", rule), **HTMX),
    ]


def test_the_outsider_gets_404_everywhere(cast, login, make_rule):
    rule = make_rule()
    teams.set_team_flag(team=cast.other_team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    answers = every_page(login(cast.outsider), rule)
    assert [response.status_code for response in answers] == [404] * len(answers)
    assert Rule.objects.get().enabled


def test_the_flag_off_hides_the_section_and_every_page(cast, login, make_rule):
    rule = make_rule()
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    client = login(cast.editor)
    body = client.get(dataset_page(rule.dataset)).content.decode()
    assert "auto-population-rules" not in body
    assert "Auto-population rules" not in body
    answers = every_page(client, rule)
    assert [response.status_code for response in answers] == [404] * len(answers)
    assert Rule.objects.get().enabled
