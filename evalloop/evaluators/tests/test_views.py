from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.evaluators.models import Evaluator, Provider
from evalloop.evaluators.tests.factories import JUDGED, EvaluatorFactory, finish, unfinished_run


def url(name, *args):
    return reverse(f"evaluators:{name}", args=args)


CONTAINS = {
    "name": "Polite reply",
    "kind": "contains",
    "param_words": "thanks\n\nplease\n",
    "param_mode": "all",
    "param_field": "output",
    "description": "",
}


# The list


def test_the_list_shows_kind_and_version_in_a_fixed_number_of_queries(
    cast, login, evaluator, django_assert_num_queries
):
    client = login(cast.viewer)
    EvaluatorFactory(team=cast.other_team, name="Hidden")
    client.get(url("evaluator-list"))  # warm the session
    with django_assert_num_queries(6):
        response = client.get(url("evaluator-list"))
    EvaluatorFactory.create_batch(4, team=cast.team, kind="regex", params={"pattern": "a"})
    with django_assert_num_queries(6):
        client.get(url("evaluator-list"))
    page = response.content.decode()
    assert "Polite" in page
    assert "Contains words" in page
    assert evaluator.version.digest in page
    assert "Hidden" not in page


def test_a_viewer_sees_no_write_buttons_and_cannot_write(cast, login, evaluator):
    client = login(cast.viewer)
    listing = client.get(url("evaluator-list")).content.decode()
    detail = client.get(url("evaluator-detail", evaluator.pk)).content.decode()
    assert url("evaluator-create") not in listing
    assert url("evaluator-edit", evaluator.pk) not in detail
    assert url("evaluator-test", evaluator.pk) not in detail
    assert client.get(url("evaluator-create")).status_code == 403
    assert client.post(url("evaluator-create"), CONTAINS).status_code == 403
    assert client.post(url("evaluator-edit", evaluator.pk), CONTAINS).status_code == 403
    assert client.post(url("evaluator-delete", evaluator.pk)).status_code == 403
    assert client.post(url("evaluator-test", evaluator.pk), {"output": "x"}).status_code == 403
    assert Evaluator.objects.filter(team=cast.team).count() == 1


@pytest.mark.parametrize(
    "name", ["evaluator-detail", "evaluator-edit", "evaluator-delete", "evaluator-test"]
)
def test_an_outsider_gets_404(cast, login, evaluator, name):
    client = login(cast.outsider)
    if name != "evaluator-test":  # POST only
        assert client.get(url(name, evaluator.pk)).status_code == 404
    assert client.post(url(name, evaluator.pk), CONTAINS).status_code == 404
    assert Evaluator.objects.filter(pk=evaluator.pk).exists()


# The form


def test_an_editor_creates_an_evaluator_from_the_kinds_fields(cast, login):
    response = login(cast.editor).post(url("evaluator-create"), CONTAINS)
    evaluator = Evaluator.objects.get(team=cast.team, name="Polite reply")
    assert response.url == url("evaluator-detail", evaluator.pk)
    assert evaluator.params == {
        "words": ["thanks", "please"],
        "mode": "all",
        "case_sensitive": False,
        "field": "output",
    }
    assert evaluator.version is not None


def test_the_form_shows_only_the_chosen_kinds_fields(cast, login):
    client = login(cast.editor)
    page = client.get(url("evaluator-create")).content.decode()
    assert 'name="param_words"' in page
    assert 'name="param_pattern"' not in page
    switched = client.get(url("evaluator-create"), {"kind": "regex", "name": "Kept"})
    assert 'name="param_pattern"' in switched.content.decode()
    assert 'value="Kept"' in switched.content.decode()


def test_switching_kind_with_htmx_renders_only_the_fields(cast, login):
    response = login(cast.editor).get(
        url("evaluator-create"), {"kind": "json_valid"}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<fieldset id="kind-fields"')
    assert 'name="param_schema"' in page
    assert "<html" not in page


def test_field_widgets_follow_the_params_model(cast, login):
    page = login(cast.editor).get(url("evaluator-create"), {"kind": "length"}).content.decode()
    assert '<select name="param_unit"' in page
    assert 'type="number" name="param_min"' in page
    checkbox = login(cast.editor).get(url("evaluator-create"), {"kind": "exact_match"})
    assert 'type="checkbox" name="param_normalize"' in checkbox.content.decode()


def test_an_invalid_pattern_is_a_form_error_beside_the_field(cast, login):
    body = {"name": "Order", "kind": "regex", "param_pattern": "(", "param_field": "output"}
    response = login(cast.editor).post(url("evaluator-create"), body)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "missing )" in errors["param_pattern"][0]
    assert not Evaluator.objects.filter(name="Order").exists()


def test_an_invalid_json_schema_param_is_a_form_error(cast, login):
    body = {"name": "J", "kind": "json_valid", "param_schema": '{"$ref": "http://x"}'}
    response = login(cast.editor).post(url("evaluator-create"), body)
    assert "inside the schema" in response.context["form"].errors["param_schema"][0]


def test_a_duplicate_name_is_a_form_error(cast, login, evaluator):
    response = login(cast.editor).post(url("evaluator-create"), {**CONTAINS, "name": "Polite"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["An evaluator named 'Polite' already exists in this team."]
    assert not form.non_field_errors()


def test_editing_params_makes_a_version_shown_on_the_page(cast, login, evaluator):
    client = login(cast.editor)
    first = evaluator.version
    edit = client.get(url("evaluator-edit", evaluator.pk)).content.decode()
    assert "thanks\nplease</textarea>" in edit
    client.post(url("evaluator-edit", evaluator.pk), {**CONTAINS, "name": "Polite"})
    evaluator.refresh_from_db()
    assert evaluator.version != first
    page = client.get(url("evaluator-detail", evaluator.pk)).content.decode()
    assert first.digest in page
    assert evaluator.version.digest in page


# Output schemas (kinds without a fixed one are registered by their own folders)


def test_the_schema_box_of_a_fixed_kind_is_not_shown(cast, login):
    page = login(cast.editor).get(url("evaluator-create")).content.decode()
    assert 'name="output_schema"' not in page
    assert 'data-testid="fixed-schema"' in page


def test_the_detail_page_lists_the_output_fields(cast, login):
    evaluator = EvaluatorFactory(team=cast.team, kind="length", params={"max": 5})
    page = login(cast.viewer).get(url("evaluator-detail", evaluator.pk)).content.decode()
    assert "<code>length</code>" in page
    assert "<code>within</code>" in page


# The test panel


def test_the_panel_evaluates_pasted_text_with_htmx_and_stores_nothing(cast, login, evaluator):
    response = login(cast.editor).post(
        url("evaluator-test", evaluator.pk),
        {"output": "Thanks, and please come back"},
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="test-panel">')
    assert "<dt>match</dt><dd><code>true</code>" in page
    assert Evaluator.objects.get(pk=evaluator.pk).version == evaluator.version


def test_the_panel_evaluates_a_dataset_row_by_its_id(cast, login, evaluator):
    row = RowFactory(dataset=DatasetFactory(team=cast.team), output="no thanks")
    response = login(cast.editor).post(url("evaluator-test", evaluator.pk), {"row": row.pk})
    page = response.content.decode()
    assert "<html" in page  # without htmx: the whole page
    assert "<dt>match</dt><dd><code>true</code>" in page


def test_the_panel_refuses_another_teams_row(cast, login, evaluator):
    other = RowFactory(dataset=DatasetFactory(team=cast.other_team), output="thanks")
    response = login(cast.editor).post(
        url("evaluator-test", evaluator.pk), {"row": other.pk}, headers={"HX-Request": "true"}
    )
    assert "No row of your team" in response.content.decode()
    assert 'data-testid="test-outcome"' not in response.content.decode()


def test_the_panel_shows_an_error_result(cast, login):
    looping = EvaluatorFactory(team=cast.team, kind="json_valid", params={"schema": {"$ref": "#"}})
    response = login(cast.editor).post(
        url("evaluator-test", looping.pk), {"output": "1"}, headers={"HX-Request": "true"}
    )
    assert "Error:" in response.content.decode()
    assert "without end" in response.content.decode()


# Deleting


def test_deleting_asks_first_then_deletes(cast, login, evaluator):
    client = login(cast.editor)
    assert b"Delete evaluator" in client.get(url("evaluator-delete", evaluator.pk)).content
    response = client.post(url("evaluator-delete", evaluator.pk))
    assert response.url == url("evaluator-list")
    assert not Evaluator.objects.filter(pk=evaluator.pk).exists()


def test_deleting_an_evaluator_of_an_unfinished_run_is_a_clear_error(cast, login, evaluator):
    run = unfinished_run(evaluator, DatasetFactory(team=cast.team))
    client = login(cast.editor)
    response = client.post(url("evaluator-delete", evaluator.pk))
    assert response.status_code == 409
    assert "has not finished" in response.content.decode()
    assert Evaluator.objects.filter(pk=evaluator.pk).exists()
    finish(run)
    assert client.post(url("evaluator-delete", evaluator.pk)).status_code == 302


def test_the_nav_links_to_evaluators(cast, login):
    page = login(cast.viewer).get(url("evaluator-list")).content.decode()
    assert f'<a href="{url("evaluator-list")}" aria-current="page">Evaluators</a>' in page


# A kind that takes an output schema (as python and llm_judge do)


def test_a_kind_without_a_fixed_schema_shows_the_schema_box_and_its_widgets(
    cast, login, scored_kind
):
    Provider.objects.create(team=cast.team, name="Local", kind="openai", key_hint="sk-...")
    page = login(cast.editor).get(url("evaluator-create"), {"kind": "scored"}).content.decode()
    assert 'name="output_schema"' in page
    assert '<textarea name="param_notes"' in page
    assert '<select name="param_provider"' in page
    assert ">Local</option>" in page
    assert '<textarea name="param_extra"' in page
    assert 'type="number" name="param_score"' in page


def test_switching_to_a_kind_with_a_schema_leaves_the_schema_box_empty(cast, login, scored_kind):
    response = login(cast.editor).get(
        url("evaluator-create"), {"kind": "scored", "output_schema": ""}, HTTP_HX_REQUEST="true"
    )
    box = re.search(r'<textarea name="output_schema"[^>]*>(.*?)</textarea>', response.text, re.S)
    assert box is not None
    assert box.group(1).strip() == ""


def test_the_output_schema_is_checked_naming_the_field(cast, login, scored_kind):
    client = login(cast.editor)
    body = {"name": "S", "kind": "scored", "param_score": "0.5", "param_extra": "{}"}
    bad = {"fields": [{"name": "score", "type": "number", "min": 2, "max": 1}]}
    response = client.post(url("evaluator-create"), {**body, "output_schema": json.dumps(bad)})
    assert response.context["form"].errors["output_schema"] == [
        "Field 1: the minimum must not exceed the maximum"
    ]
    missing = client.post(url("evaluator-create"), body)
    assert "output_schema" in missing.context["form"].errors
    good = client.post(url("evaluator-create"), {**body, "output_schema": json.dumps(JUDGED)})
    evaluator = Evaluator.objects.get(name="S")
    assert good.url == url("evaluator-detail", evaluator.pk)
    assert evaluator.output_schema == JUDGED


def test_a_kinds_own_problem_is_shown_beside_its_field(cast, login, scored_kind):
    other = Provider.objects.create(team=cast.other_team, name="Theirs", kind="openai")
    body = {
        "name": "S",
        "kind": "scored",
        "param_score": "1",
        "param_provider": str(other.pk),
        "output_schema": json.dumps(JUDGED),
    }
    response = login(cast.editor).post(url("evaluator-create"), body)
    assert response.context["form"].errors["param_provider"]
    assert not Evaluator.objects.filter(name="S").exists()


def test_a_judges_unknown_variable_is_shown_beside_the_prompt(cast, login):
    provider = Provider.objects.create(team=cast.team, name="Ours", kind="openai")
    body = {
        "name": "Judge",
        "kind": "llm_judge",
        "param_provider": str(provider.pk),
        "param_model": "m",
        "param_prompt": "Rate {{ouput}}",
        "output_schema": json.dumps(JUDGED),
    }
    response = login(cast.editor).post(url("evaluator-create"), body)
    assert "{{ouput}}" in response.context["form"].errors["param_prompt"][0]
    assert not Evaluator.objects.filter(name="Judge").exists()


def test_output_schema_problems_read_in_plain_words(cast, login, scored_kind):
    client = login(cast.editor)
    body = {"name": "S", "kind": "scored", "param_score": "0.5", "param_extra": "{}"}

    def problems(schema):
        response = client.post(url("evaluator-create"), {**body, "output_schema": schema})
        return response.context["form"].errors["output_schema"]

    assert problems('{"fields": []}') == ["Fields: give at least one"]
    assert problems('{"fields": [{"type": "text"}, {"name": "2x", "type": "text"}]}') == [
        "Field 1, name: missing",
        "Field 2, name: letters, digits and underscores only, not starting with a digit",
    ]
    assert problems('{"fields": [{"name": "a", "type": "text"}], "extra": 1}') == [
        "extra: not a known setting: leave it out"
    ]
    for said in [*problems('{"fields": [{"name": "a", "type": "category"}]}'), *problems("{}")]:
        assert "fields." not in said
        assert "Field required" not in said
