"""Operations on evaluators: create, edit (making versions), delete, and test on one row."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from typing import Any

import pydantic
from django.db import IntegrityError, transaction
from django.utils import timezone

from evalloop.evaluators.engine import evaluate_rows
from evalloop.evaluators.kinds import REGISTRY, get_kind
from evalloop.evaluators.kinds.base import ROW_KEYS, Kind, Outcome, RowData
from evalloop.evaluators.models import Evaluator, EvaluatorVersion
from evalloop.evaluators.output_schema import OutputSchema
from evalloop.lib.errors import Conflict, Invalid, Loc
from evalloop.lib.inputs import Strict, UnsafeValue, check_value
from evalloop.lib.locking import lock_or_404
from evalloop.teams.models import Team

MAX_NAME = 200
MAX_DESCRIPTION = 5_000
DIGEST_LENGTH = 12
EMPTY_ROW: RowData = {
    "input": "",
    "output": "",
    "expected_output": "",
    "history": [],
    "context": {},
    "participant_data": {},
    "state": {},
}


@dataclass(frozen=True)
class Definition:
    """What a version is made of: the kind, its checked params and the output schema."""

    kind: str
    params: dict[str, Any]
    output_schema: dict[str, Any]

    @property
    def digest(self) -> str:
        canonical = json.dumps(
            {"kind": self.kind, "params": self.params, "output_schema": self.output_schema},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


# Checks


# Pydantic's wording of the problems people make most, in plain words.
PLAIN_PROBLEMS = {
    "missing": "missing",
    "extra_forbidden": "not a known setting: leave it out",
    "too_short": "give at least one",
    "string_pattern_mismatch": "letters, digits and underscores only, not starting with a digit",
}


def _pydantic_problems(exc: pydantic.ValidationError, *at: str) -> list[tuple[Loc, str]]:
    return [
        (
            (*at, *error["loc"]),
            PLAIN_PROBLEMS.get(error["type"]) or error["msg"].removeprefix("Value error, "),
        )
        for error in exc.errors()
    ]


def _clean_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise Invalid([(("name",), "An evaluator needs a name.")])
    if len(name) > MAX_NAME:
        raise Invalid([(("name",), f"At most {MAX_NAME} characters.")])
    return name


def _clean_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise Invalid([(("description",), f"At most {MAX_DESCRIPTION} characters.")])
    return description


def _kind(name: str) -> Kind:
    if name not in REGISTRY:
        choices = ", ".join(REGISTRY)
        raise Invalid([(("kind",), f"Not a kind of evaluator; one of: {choices}.")])
    return get_kind(name)


def _output_schema(kind: Kind, schema: dict[str, Any] | None) -> dict[str, Any]:
    """The schema to store: the kind's own for fixed kinds, else the given one, checked."""
    if kind.fixed_schema is not None:
        fixed = _normalized_schema(kind.fixed_schema)
        if schema is not None and _safe_normalized_schema(schema) != fixed:
            message = f"{kind.name} answers a fixed output schema; leave output_schema out."
            raise Invalid([(("output_schema",), message)])
        return fixed
    if schema is None:
        raise Invalid([(("output_schema",), f"{kind.name} needs an output schema.")])
    try:
        return _normalized_schema(schema)
    except pydantic.ValidationError as exc:
        raise Invalid(_pydantic_problems(exc, "output_schema")) from None


def _normalized_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return OutputSchema.model_validate(schema).model_dump(mode="json", exclude_none=True)


def _safe_normalized_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _normalized_schema(schema)
    except pydantic.ValidationError:
        return None


def _checked_params(kind: Kind, params: Any, problems: list[tuple[Loc, str]]) -> Strict | None:
    try:
        return kind.params_model.model_validate(params)
    except pydantic.ValidationError as exc:
        problems += _pydantic_problems(exc, "params")
        return None


def _checked_schema(
    kind: Kind, schema: dict[str, Any] | None, problems: list[tuple[Loc, str]]
) -> dict[str, Any]:
    try:
        return _output_schema(kind, schema)
    except Invalid as exc:
        problems += exc.problems
        return {}


def check_definition(
    *, team: Team, kind: str, params: Any, output_schema: dict[str, Any] | None
) -> Definition:
    """Answer the definition in its stored form; raise Invalid naming every problem found."""
    found = _kind(kind)
    problems: list[tuple[Loc, str]] = []
    checked = _checked_params(found, params, problems)
    schema = _checked_schema(found, output_schema, problems)
    if checked is not None:
        # Checks that need the team (a provider, template names) run on sound params only.
        problems += [
            (("params", *at), msg) for at, msg in found.problems(team=team, params=checked)
        ]
    if problems or checked is None:
        raise Invalid(problems)
    return Definition(found.name, checked.model_dump(mode="json"), schema)


# Versions


def _version(evaluator: Evaluator, definition: Definition) -> EvaluatorVersion:
    """The evaluator's version of `definition`: the one made before, or a new one."""
    version, _ = EvaluatorVersion.objects.get_or_create(
        evaluator=evaluator,
        digest=definition.digest,
        defaults={
            "team": evaluator.team,
            "name": evaluator.name,
            "kind": definition.kind,
            "params": definition.params,
            "output_schema": definition.output_schema,
        },
    )
    return version


def _apply(evaluator: Evaluator, definition: Definition) -> None:
    evaluator.kind = definition.kind
    evaluator.params = definition.params
    evaluator.output_schema = definition.output_schema


def _definition(evaluator: Evaluator) -> Definition:
    return Definition(evaluator.kind, evaluator.params, evaluator.output_schema)


# Evaluators


def _name_taken(name: str) -> str:
    return f"An evaluator named {name!r} already exists in this team."


def _check_name_free(team: Team, name: str, *, exclude: int | None = None) -> None:
    taken = Evaluator.objects.for_team(team).filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(_name_taken(name), field="name")


def _saved(evaluator: Evaluator) -> None:
    """Save in a savepoint, so a name taken by a concurrent save is a Conflict, not a 500."""
    try:
        with transaction.atomic():
            evaluator.save()
    except IntegrityError:
        raise Conflict(_name_taken(evaluator.name), field="name") from None


@transaction.atomic
def create_evaluator(
    *,
    team: Team,
    name: str,
    kind: str,
    params: Any,
    output_schema: dict[str, Any] | None = None,
    description: str = "",
) -> Evaluator:
    name = _clean_name(name)
    definition = check_definition(team=team, kind=kind, params=params, output_schema=output_schema)
    _check_name_free(team, name)
    evaluator = Evaluator(team=team, name=name, description=_clean_description(description))
    _apply(evaluator, definition)
    _saved(evaluator)
    evaluator.version = _version(evaluator, definition)
    evaluator.save(update_fields=["version"])
    return evaluator


def _changed_definition(evaluator: Evaluator, changes: dict[str, Any]) -> Definition:
    """The definition after `changes`; a new kind starts from empty params."""
    kind = changes.get("kind", evaluator.kind)
    same_kind = kind == evaluator.kind
    schema = changes.get("output_schema")
    if schema is None and kind in REGISTRY and get_kind(kind).fixed_schema is None:
        # A kind that takes a schema keeps the one it had, unless it had a fixed one.
        was_fixed = evaluator.kind in REGISTRY and get_kind(evaluator.kind).fixed_schema
        schema = None if was_fixed else evaluator.output_schema
    return check_definition(
        team=evaluator.team,
        kind=kind,
        params=changes.get("params", evaluator.params if same_kind else {}),
        output_schema=schema,
    )


EDITABLE = frozenset({"name", "description", "kind", "params", "output_schema"})
DEFINING = frozenset({"kind", "params", "output_schema"})


@transaction.atomic
def update_evaluator(*, evaluator: Evaluator, **changes: Any) -> Evaluator:
    """Change an evaluator; a new kind, params or schema makes (or reuses) a version.

    Only the fields given change. A name or description alone makes no new version.
    """
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise Invalid([((name,), "Not a field of an evaluator.") for name in unknown])
    evaluator = lock_or_404(evaluator)
    if "name" in changes:
        evaluator.name = _clean_name(changes["name"])
        _check_name_free(evaluator.team, evaluator.name, exclude=evaluator.pk)
    if "description" in changes:
        evaluator.description = _clean_description(changes["description"])
    if DEFINING & set(changes):
        definition = _changed_definition(evaluator, changes)
        if definition != _definition(evaluator) or evaluator.version is None:
            _apply(evaluator, definition)
            evaluator.version = _version(evaluator, definition)
    evaluator.updated_at = timezone.now()
    _saved(evaluator)
    return evaluator


@transaction.atomic
def delete_evaluator(*, evaluator: Evaluator) -> None:
    """Delete an evaluator; its versions stay for the results that name them."""
    from evalloop.runs.models import Run  # runs import evaluators: import here, not above

    evaluator = lock_or_404(evaluator)
    if Run.objects.using_evaluator(evaluator).exists():
        raise Conflict(
            f"{evaluator.name} is used by a run that has not finished; delete it when the run "
            "ends or is cancelled."
        )
    evaluator.delete()


# The test panel


def full_row(row: RowData) -> RowData:
    """A row with every field evaluators read; a field left out is empty."""
    unknown = sorted(set(row) - set(ROW_KEYS))
    if unknown:
        raise Invalid([(("row", name), "Not a row field.") for name in unknown])
    try:
        check_value(row)
    except UnsafeValue as exc:
        raise Invalid([(("row", *exc.path), exc.reason)]) from None
    return {**EMPTY_ROW, **row}


def test_evaluator(*, evaluator: Evaluator, row: RowData) -> Outcome:
    """Evaluate one row with the evaluator's current version; nothing is stored."""
    version = evaluator.version or EvaluatorVersion(
        kind=evaluator.kind, params=evaluator.params, output_schema=evaluator.output_schema
    )
    if version.kind not in REGISTRY:
        return Outcome(error=f"{version.kind} is not a kind this server knows.")
    from evalloop.evaluators import providers  # the LLM clients load only when needed

    started = time.perf_counter()
    with providers.interactive():  # someone is waiting: no minutes of retries
        outcome = evaluate_rows(version, [full_row(row)])[0]
    elapsed = round((time.perf_counter() - started) * 1000)
    return replace(outcome, latency_ms=outcome.latency_ms or elapsed)
