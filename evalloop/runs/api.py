"""Config and run endpoints: configs, starting and stopping runs, results, CSV and trends."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.pagination import paginate
from pydantic import Field

from evalloop.api.auth import api_team
from evalloop.api.errors import answers, problem
from evalloop.api.pagination import CursorPagination
from evalloop.datasets.models import Dataset
from evalloop.evaluators.models import Evaluator
from evalloop.lib.errors import Conflict
from evalloop.runs import export, services, trends
from evalloop.runs.models import Config, Result, Run, RunType, Trigger
from evalloop.runs.schemas import (
    ConfigIn,
    ConfigOut,
    ConfigPatch,
    ResultOut,
    RunDetailOut,
    RunIn,
    RunOut,
    TrendOut,
)
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action

router = Router(tags=["runs"])
MAX_TREND_DAYS = 365
CSV_RESPONSE = {"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}}


def _config(request: HttpRequest, config_id: int, action: Action = Action.VIEW) -> Config:
    team = api_team(request, action)
    return get_for_team_or_404(Config.objects.prefetch_related("evaluators"), team, pk=config_id)


def _run(request: HttpRequest, run_id: int, action: Action = Action.VIEW) -> Run:
    return get_for_team_or_404(Run, api_team(request, action), pk=run_id)


def _dataset(team: Team, dataset_id: int) -> Dataset:
    dataset = team_objects(Dataset, team).filter(pk=dataset_id).first()
    if dataset is None:
        raise ValidationError([problem("No such dataset in this team.", "body", "dataset")])
    return dataset


def _evaluators(team: Team, ids: list[int]) -> list[Evaluator]:
    """The team's evaluators of `ids`, in their order; an unknown id is named by its index."""
    found = {each.pk: each for each in team_objects(Evaluator, team).filter(pk__in=ids)}
    missing = [
        problem("No such evaluator in this team.", "body", "evaluators", index)
        for index, pk in enumerate(ids)
        if pk not in found
    ]
    if missing:
        raise ValidationError(missing)
    return [found[pk] for pk in dict.fromkeys(ids)]


def _config_fields(team: Team, values: dict[str, Any]) -> dict[str, Any]:
    """The body's fields with ids swapped for the team's objects they name."""
    if "dataset" in values:
        values["dataset"] = _dataset(team, values["dataset"])
    if "evaluators" in values:
        values["evaluators"] = _evaluators(team, values["evaluators"])
    return values


# Configs


@router.post("/configs", response={201: ConfigOut, **answers(403, 409)}, summary="Create a config")
def create_config(request: HttpRequest, body: ConfigIn) -> Status[Config]:
    team = api_team(request, Action.EDIT)
    fields = _config_fields(team, body.model_dump())
    return Status(201, services.create_config(team=team, **fields))


@router.get("/configs", response=list[ConfigOut], summary="List configs")
@paginate(CursorPagination, newest_first=False)
def list_configs(request: HttpRequest) -> QuerySet[Config]:
    configs = Config.objects.prefetch_related("evaluators")
    return team_objects(configs, api_team(request))


@router.get("/configs/{config_id}", response=ConfigOut, summary="One config")
def get_config(request: HttpRequest, config_id: int) -> Config:
    return _config(request, config_id)


@router.patch(
    "/configs/{config_id}",
    response={200: ConfigOut, **answers(403, 409)},
    summary="Change a config (runs already started keep their plan)",
)
def update_config(request: HttpRequest, config_id: int, body: ConfigPatch) -> Config:
    config = _config(request, config_id, Action.EDIT)
    fields = _config_fields(config.team, body.model_dump(exclude_unset=True))
    services.update_config(config=config, **fields)
    return _config(request, config_id)


@router.delete(
    "/configs/{config_id}",
    response={204: None, **answers(403, 409)},
    summary="Delete a config with its runs",
    description="409 while one of its runs is unfinished: cancel it or wait for it to end.",
)
def delete_config(request: HttpRequest, config_id: int) -> Status[None]:
    services.delete_config(config=_config(request, config_id, Action.EDIT))
    return Status(204, None)


# Runs


def _start(request: HttpRequest, config: Config, body: RunIn) -> Run:
    options: dict[str, Any] = {}
    if body.sample_size is not None:
        options["sample_size"] = body.sample_size
    api_key: Any = request.auth  # type: ignore[attr-defined]
    try:
        return services.start_run(
            config=config,
            type=RunType(body.type),
            trigger=Trigger.API,
            trigger_label=f"API key {api_key.name}",
            **options,
        )
    except DjangoValidationError as exc:
        if set(exc.message_dict) <= set(RunIn.model_fields):
            raise
        # What the config or its dataset lacks (no rows, no evaluator version) is their state.
        raise Conflict(" ".join(exc.messages)) from None


@router.post(
    "/configs/{config_id}/runs",
    response={201: RunDetailOut, **answers(403, 409)},
    summary="Start a full run or a preview",
    description="`full` evaluates every row the dataset holds now, `preview` a random sample "
    "of `sample_size` rows (10 by default). Delta runs are started by auto-population rules. "
    "409 when the dataset has no rows or the config no evaluator.",
)
def start_run(request: HttpRequest, config_id: int, body: RunIn) -> Status[Run]:
    config = _config(request, config_id, Action.EDIT)
    return Status(201, _start(request, config, body))


@router.get(
    "/configs/{config_id}/runs",
    response=list[RunOut],
    summary="The run history of a config, newest first",
)
@paginate(CursorPagination)
def list_runs(request: HttpRequest, config_id: int) -> QuerySet[Run]:
    return _config(request, config_id).runs.all()


@router.get("/runs/{run_id}", response=RunDetailOut, summary="One run, with its aggregates")
def get_run(request: HttpRequest, run_id: int) -> Run:
    return _run(request, run_id)


@router.get(
    "/runs/{run_id}/results",
    response=list[ResultOut],
    summary="Results of a run: one per (row, evaluator version)",
)
@paginate(CursorPagination, newest_first=False)
def list_results(request: HttpRequest, run_id: int) -> QuerySet[Result]:
    run = _run(request, run_id)
    return Result.objects.filter(run=run).select_related("version")


@router.post(
    "/runs/{run_id}/cancel",
    response={200: RunDetailOut, **answers(403, 409)},
    summary="Cancel an unfinished run",
    description="409 when the run has already finished.",
)
def cancel_run(request: HttpRequest, run_id: int) -> Run:
    services.cancel_run(run=_run(request, run_id, Action.EDIT))
    return _run(request, run_id)


@router.post(
    "/runs/{run_id}/rerun-failed",
    response={200: RunDetailOut, **answers(403, 409)},
    summary="Evaluate again the pairs of a finished run that ended in an error",
    description="409 while the run is unfinished, or when it has no failed evaluation.",
)
def rerun_failed(request: HttpRequest, run_id: int) -> Run:
    services.rerun_failed(run=_run(request, run_id, Action.EDIT))
    return _run(request, run_id)


@router.get(
    "/runs/{run_id}/csv",
    summary="The results as CSV (streamed): a line per row, columns per evaluator field",
    response={200: None},
    openapi_extra=CSV_RESPONSE,
)
def download_csv(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    run = get_for_team_or_404(Run.objects.select_related("config"), api_team(request), pk=run_id)
    return export.download_response(run)


# Trends


class TrendQuery(Schema):
    days: int = Field(30, ge=1, le=MAX_TREND_DAYS)


@router.get(
    "/configs/{config_id}/trend",
    response=TrendOut,
    summary="Aggregates of full and delta runs over time, a series per evaluator version",
)
def get_trend(request: HttpRequest, config_id: int, query: Query[TrendQuery]) -> dict[str, Any]:
    config = _config(request, config_id)
    series = trends.config_trend(config=config, days=query.days)
    return {"config": config.pk, "days": query.days, "series": series}
