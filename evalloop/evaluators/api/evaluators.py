"""Evaluator endpoints: evaluators, their versions, and a test on one row that stores nothing."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from evalloop.api.auth import api_team
from evalloop.api.errors import answers
from evalloop.api.pagination import CursorPagination
from evalloop.evaluators import services
from evalloop.evaluators.kinds.base import Outcome
from evalloop.evaluators.models import Evaluator, EvaluatorVersion
from evalloop.evaluators.schemas import (
    EvaluatorIn,
    EvaluatorOut,
    EvaluatorPatch,
    EvaluatorTestIn,
    EvaluatorTestOut,
    EvaluatorVersionOut,
)
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.permissions import Action

router = Router(tags=["evaluators"])


def _evaluator(request: HttpRequest, evaluator_id: int, action: Action = Action.VIEW) -> Evaluator:
    team = api_team(request, action)
    return get_for_team_or_404(Evaluator.objects.select_related("version"), team, pk=evaluator_id)


@router.post(
    "/evaluators", response={201: EvaluatorOut, **answers(403, 409)}, summary="Create an evaluator"
)
def create_evaluator(request: HttpRequest, body: EvaluatorIn) -> Status[Evaluator]:
    team = api_team(request, Action.EDIT)
    evaluator = services.create_evaluator(team=team, **body.model_dump())
    return Status(201, evaluator)


@router.get("/evaluators", response=list[EvaluatorOut], summary="List evaluators")
@paginate(CursorPagination, newest_first=False)
def list_evaluators(request: HttpRequest) -> QuerySet[Evaluator]:
    return team_objects(Evaluator.objects.select_related("version"), api_team(request))


@router.get("/evaluators/{evaluator_id}", response=EvaluatorOut, summary="One evaluator")
def get_evaluator(request: HttpRequest, evaluator_id: int) -> Evaluator:
    return _evaluator(request, evaluator_id)


@router.patch(
    "/evaluators/{evaluator_id}",
    response={200: EvaluatorOut, **answers(403, 409)},
    summary="Change an evaluator",
    description="A new kind, params or output schema makes a new version (or returns to the "
    "version of that definition made before); a name or description alone does not.",
)
def update_evaluator(request: HttpRequest, evaluator_id: int, body: EvaluatorPatch) -> Evaluator:
    evaluator = _evaluator(request, evaluator_id, Action.EDIT)
    return services.update_evaluator(evaluator=evaluator, **body.model_dump(exclude_unset=True))


@router.delete(
    "/evaluators/{evaluator_id}",
    response={204: None, **answers(403, 409)},
    summary="Delete an evaluator",
    description="409 while a run that uses it is unfinished. Its versions stay, so results "
    "keep their meaning.",
)
def delete_evaluator(request: HttpRequest, evaluator_id: int) -> Status[None]:
    services.delete_evaluator(evaluator=_evaluator(request, evaluator_id, Action.EDIT))
    return Status(204, None)


@router.get(
    "/evaluators/{evaluator_id}/versions",
    response=list[EvaluatorVersionOut],
    summary="Versions of an evaluator, newest first",
)
@paginate(CursorPagination)
def list_versions(request: HttpRequest, evaluator_id: int) -> QuerySet[EvaluatorVersion]:
    return _evaluator(request, evaluator_id).versions.all()


@router.post(
    "/evaluators/{evaluator_id}/test",
    response={200: EvaluatorTestOut, **answers(403)},
    summary="Evaluate one row with the current version; nothing is stored",
    description="The answer holds the output (matching the output schema) or the error. "
    "Needs an editor's key: a judge's test spends the provider's tokens.",
)
def test_evaluator(request: HttpRequest, evaluator_id: int, body: EvaluatorTestIn) -> Outcome:
    evaluator = _evaluator(request, evaluator_id, Action.EDIT)
    return services.test_evaluator(evaluator=evaluator, row=body.row.model_dump())
