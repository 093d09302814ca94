from __future__ import annotations

import pytest

from evalloop.evaluators import services
from evalloop.evaluators.models import Evaluator, EvaluatorVersion
from evalloop.evaluators.tests.factories import JUDGED, EvaluatorFactory, finish, unfinished_run
from evalloop.lib.errors import Conflict, Invalid


def places(exc_info):
    return [loc for loc, _ in exc_info.value.problems]


# Creating


def test_creating_makes_the_first_version_with_params_in_their_stored_form(cast):
    evaluator = services.create_evaluator(
        team=cast.team, name=" Polite ", kind="contains", params={"words": ["thanks"]}
    )
    version = evaluator.version
    assert evaluator.name == "Polite"
    assert evaluator.params == {
        "words": ["thanks"],
        "mode": "any",
        "case_sensitive": False,
        "field": "output",
    }
    assert evaluator.output_schema == {"fields": [{"name": "match", "type": "boolean"}]}
    assert (version.kind, version.params, version.name) == ("contains", evaluator.params, "Polite")
    assert len(version.digest) == 12
    assert int(version.digest, 16) >= 0


def test_the_digest_is_the_same_for_the_same_definition_in_any_team(cast):
    one = EvaluatorFactory(team=cast.team, params={"words": ["a"]})
    two = EvaluatorFactory(team=cast.other_team, params={"words": ["a"], "mode": "any"})
    three = EvaluatorFactory(team=cast.team, params={"words": ["b"]})
    assert one.version.digest == two.version.digest != three.version.digest


def test_an_unknown_kind_is_refused_naming_the_kind(cast):
    with pytest.raises(Invalid) as refused:
        services.create_evaluator(team=cast.team, name="X", kind="magic", params={})
    assert places(refused) == [("kind",)]
    assert not Evaluator.objects.exists()


def test_unknown_and_ill_typed_params_are_refused_naming_each_field(cast):
    with pytest.raises(Invalid) as refused:
        services.create_evaluator(
            team=cast.team,
            name="X",
            kind="contains",
            params={"words": "thanks", "mode": "some", "colour": "red"},
        )
    assert sorted(places(refused)) == [
        ("params", "colour"),
        ("params", "mode"),
        ("params", "words"),
    ]


def test_an_invalid_pattern_is_refused_naming_params_pattern(cast):
    with pytest.raises(Invalid) as refused:
        services.create_evaluator(team=cast.team, name="X", kind="regex", params={"pattern": "("})
    assert places(refused) == [("params", "pattern")]
    assert "missing )" in refused.value.problems[0][1]


def test_a_fixed_kind_refuses_another_output_schema_but_accepts_its_own(cast):
    with pytest.raises(Invalid) as refused:
        services.create_evaluator(
            team=cast.team, name="X", kind="regex", params={"pattern": "a"}, output_schema=JUDGED
        )
    assert places(refused) == [("output_schema",)]
    own = {"fields": [{"name": "match", "type": "boolean"}]}
    evaluator = services.create_evaluator(
        team=cast.team, name="X", kind="regex", params={"pattern": "a"}, output_schema=own
    )
    assert evaluator.output_schema == own


def test_a_taken_name_is_a_conflict(cast, evaluator):
    with pytest.raises(Conflict, match="already exists"):
        EvaluatorFactory(team=cast.team, name="Polite")
    assert EvaluatorFactory(team=cast.other_team, name="Polite").pk


# Versions


def test_a_name_or_description_change_keeps_the_version(evaluator):
    version = evaluator.version
    services.update_evaluator(evaluator=evaluator, name="Courteous", description="Says thanks")
    evaluator.refresh_from_db()
    assert (evaluator.name, evaluator.version) == ("Courteous", version)
    assert EvaluatorVersion.objects.filter(evaluator=evaluator).count() == 1


def test_resaving_the_same_params_keeps_the_version(evaluator):
    version = evaluator.version
    services.update_evaluator(evaluator=evaluator, params={"words": ["thanks", "please"]})
    assert evaluator.version == version


def test_a_params_change_makes_a_version_and_going_back_reuses_the_old_one(evaluator):
    first = evaluator.version
    services.update_evaluator(evaluator=evaluator, params={"words": ["cheers"]})
    second = Evaluator.objects.get(pk=evaluator.pk).version
    assert second != first
    assert second.params["words"] == ["cheers"]
    services.update_evaluator(evaluator=evaluator, params={"words": ["thanks", "please"]})
    assert Evaluator.objects.get(pk=evaluator.pk).version == first
    assert evaluator.versions.count() == 2


def test_a_refused_change_changes_nothing(evaluator):
    version = evaluator.version
    with pytest.raises(Invalid):
        services.update_evaluator(evaluator=evaluator, name="New", params={"words": []})
    evaluator.refresh_from_db()
    assert (evaluator.name, evaluator.version) == ("Polite", version)


def test_a_new_kind_starts_from_the_params_given(evaluator):
    services.update_evaluator(evaluator=evaluator, kind="length", params={"max": 50})
    evaluator.refresh_from_db()
    assert (evaluator.kind, evaluator.params["max"]) == ("length", 50)
    assert [f["name"] for f in evaluator.output_schema["fields"]] == ["length", "within"]
    with pytest.raises(Invalid) as refused:
        services.update_evaluator(evaluator=evaluator, kind="regex")
    assert places(refused) == [("params", "pattern")]


def test_an_unknown_field_is_refused(evaluator):
    with pytest.raises(Invalid) as refused:
        services.update_evaluator(evaluator=evaluator, colour="red")
    assert places(refused) == [("colour",)]


# Deleting


def test_deleting_waits_for_unfinished_runs_and_keeps_the_versions(evaluator, dataset):
    run = unfinished_run(evaluator, dataset)
    with pytest.raises(Conflict, match="has not finished"):
        services.delete_evaluator(evaluator=evaluator)
    finish(run)
    version = evaluator.version
    services.delete_evaluator(evaluator=evaluator)
    version.refresh_from_db()
    assert not Evaluator.objects.filter(pk=evaluator.pk).exists()
    assert version.evaluator is None
    assert version.name == "Polite"


# Testing on one row


def test_testing_answers_the_output_and_stores_nothing(evaluator, django_assert_num_queries):
    with django_assert_num_queries(0):
        outcome = services.test_evaluator(evaluator=evaluator, row={"output": "Thanks a lot"})
    assert (outcome.output, outcome.error) == ({"match": True}, "")


def test_testing_refuses_a_field_that_is_not_a_row_field(evaluator):
    with pytest.raises(Invalid) as refused:
        services.test_evaluator(evaluator=evaluator, row={"outptu": "x"})
    assert places(refused) == [("row", "outptu")]


# Kinds that take an output schema (the tests' `scored` kind stands for python and llm_judge)


def test_a_kind_without_a_fixed_schema_needs_one_and_checks_it(cast, scored_kind):
    with pytest.raises(Invalid) as missing:
        services.create_evaluator(team=cast.team, name="S", kind="scored", params={"score": 1})
    assert places(missing) == [("output_schema",)]
    bad = {"fields": [{"name": "tone", "type": "category"}]}
    with pytest.raises(Invalid) as refused:
        services.create_evaluator(
            team=cast.team, name="S", kind="scored", params={"score": 1}, output_schema=bad
        )
    assert places(refused) == [("output_schema", "fields", 0)]


def test_a_kinds_own_problems_are_placed_under_params(cast, scored_kind):
    with pytest.raises(Invalid) as refused:
        services.create_evaluator(
            team=cast.team,
            name="S",
            kind="scored",
            params={"score": 1, "provider": 999},
            output_schema=JUDGED,
        )
    assert places(refused) == [("params", "provider")]


def test_a_schema_change_makes_a_version_and_a_kind_change_keeps_a_given_schema(cast, scored_kind):
    evaluator = services.create_evaluator(
        team=cast.team, name="S", kind="scored", params={"score": 1}, output_schema=JUDGED
    )
    first = evaluator.version
    wider = {"fields": [{"name": "score", "type": "number", "min": 0, "max": 10}]}
    services.update_evaluator(evaluator=evaluator, output_schema=wider)
    assert Evaluator.objects.get(pk=evaluator.pk).version != first
    services.update_evaluator(evaluator=evaluator, kind="exact_match")
    evaluator.refresh_from_db()
    assert evaluator.output_schema["fields"][0]["name"] == "match"
    with pytest.raises(Invalid) as refused:
        services.update_evaluator(evaluator=evaluator, kind="scored", params={"score": 1})
    assert places(refused) == [("output_schema",)]


def test_testing_checks_the_answer_against_the_schema(cast, scored_kind):
    narrow = {"fields": [{"name": "score", "type": "number", "max": 1}]}
    evaluator = services.create_evaluator(
        team=cast.team, name="S", kind="scored", params={"score": 5}, output_schema=narrow
    )
    outcome = services.test_evaluator(evaluator=evaluator, row={})
    assert outcome.output is None
    assert "score: must be at most 1" in outcome.error
