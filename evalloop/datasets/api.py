"""Dataset endpoints: datasets, rows, imports from traffic, CSV, copies, import jobs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import File, Router, Status
from ninja.errors import ValidationError
from ninja.files import UploadedFile
from ninja.pagination import paginate

from evalloop.api.auth import api_team
from evalloop.api.errors import answers, problem
from evalloop.api.pagination import CursorPagination
from evalloop.chat.models import Chatbot
from evalloop.datasets import csvio, services
from evalloop.datasets.models import Dataset, ImportJob, Row, RowQuerySet
from evalloop.datasets.schemas import (
    CopyIn,
    CopyOut,
    CsvOut,
    DatasetIn,
    DatasetOut,
    DatasetPatch,
    ImportCountOut,
    ImportIn,
    ImportJobOut,
    ImportOut,
    JobOut,
    RowIn,
    RowOut,
    RowPatch,
)
from evalloop.datasets.snapshots import Tally
from evalloop.filters import Target, parse_filter
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.permissions import Action

router = Router(tags=["datasets"])


def _dataset(request: HttpRequest, dataset_id: int, action: Action = Action.VIEW) -> Dataset:
    team = api_team(request, action)
    return get_for_team_or_404(Dataset.objects.with_row_count(), team, pk=dataset_id)


def _rows(dataset: Dataset) -> RowQuerySet:
    return Row.objects.filter(dataset=dataset).select_related("source_session__chatbot")


def _row(request: HttpRequest, dataset_id: int, row_id: int, action: Action) -> Row:
    dataset = _dataset(request, dataset_id, action)
    return get_for_team_or_404(_rows(dataset), dataset.team, pk=row_id)


# Datasets


@router.post(
    "/datasets", response={201: DatasetOut, **answers(403, 409)}, summary="Create a dataset"
)
def create_dataset(request: HttpRequest, body: DatasetIn) -> Status[Dataset]:
    team = api_team(request, Action.EDIT)
    dataset = services.create_dataset(
        team=team, name=body.name, mode=body.mode, description=body.description
    )
    return Status(201, dataset)


@router.get("/datasets", response=list[DatasetOut], summary="List datasets")
@paginate(CursorPagination, newest_first=False)
def list_datasets(request: HttpRequest) -> QuerySet[Dataset]:
    return team_objects(Dataset.objects.with_row_count(), api_team(request))


@router.get("/datasets/{dataset_id}", response=DatasetOut, summary="One dataset")
def get_dataset(request: HttpRequest, dataset_id: int) -> Dataset:
    return _dataset(request, dataset_id)


@router.patch(
    "/datasets/{dataset_id}",
    response={200: DatasetOut, **answers(403, 409)},
    summary="Rename or describe",
)
def update_dataset(request: HttpRequest, dataset_id: int, body: DatasetPatch) -> Dataset:
    dataset = _dataset(request, dataset_id, Action.EDIT)
    if body.mode is not None and body.mode != dataset.mode:
        raise ValidationError([problem("The mode is fixed at creation.", "body", "mode")])
    return services.update_dataset(dataset=dataset, name=body.name, description=body.description)


@router.delete(
    "/datasets/{dataset_id}",
    response={204: None, **answers(403, 409)},
    summary="Delete a dataset",
)
def delete_dataset(request: HttpRequest, dataset_id: int) -> Status[None]:
    services.delete_dataset(dataset=_dataset(request, dataset_id, Action.EDIT))
    return Status(204, None)


# Rows


@router.get(
    "/datasets/{dataset_id}/rows",
    response=list[RowOut],
    summary="Rows of a dataset, newest first",
    description="`q` keeps rows whose input, output, expected output or history contain it.",
)
@paginate(CursorPagination)
def list_rows(request: HttpRequest, dataset_id: int, q: str = "") -> QuerySet[Row]:
    return _rows(_dataset(request, dataset_id)).search(q)


@router.post(
    "/datasets/{dataset_id}/rows",
    response={201: RowOut, **answers(403)},
    summary="Add a row by hand",
)
def add_row(request: HttpRequest, dataset_id: int, body: RowIn) -> Status[Row]:
    dataset = _dataset(request, dataset_id, Action.EDIT)
    return Status(201, services.add_row(dataset=dataset, values=body.model_dump()))


@router.get("/datasets/{dataset_id}/rows/{row_id}", response=RowOut, summary="One row")
def get_row(request: HttpRequest, dataset_id: int, row_id: int) -> Row:
    return _row(request, dataset_id, row_id, Action.VIEW)


@router.patch(
    "/datasets/{dataset_id}/rows/{row_id}",
    response={200: RowOut, **answers(403)},
    summary="Edit a row (keeps its provenance, marks it edited)",
)
def edit_row(request: HttpRequest, dataset_id: int, row_id: int, body: RowPatch) -> Row:
    row = _row(request, dataset_id, row_id, Action.EDIT)
    return services.edit_row(row=row, changes=body.model_dump(exclude_unset=True))


@router.delete(
    "/datasets/{dataset_id}/rows/{row_id}",
    response={204: None, **answers(403, 409)},
    summary="Delete a row",
)
def delete_row(request: HttpRequest, dataset_id: int, row_id: int) -> Status[None]:
    services.delete_row(row=_row(request, dataset_id, row_id, Action.EDIT))
    return Status(204, None)


# Imports from traffic


def _selection(dataset: Dataset, body: ImportIn) -> services.Selection:
    team = dataset.team
    if (body.session_ids is None) == (body.chatbot is None):
        raise ValidationError(
            [problem("Give either session_ids or chatbot (with a filter).", "body")]
        )
    if body.session_ids is not None:
        return services.select_sessions(team=team, session_ids=body.session_ids)
    chatbot = team_objects(Chatbot, team).filter(slug=body.chatbot).first()
    if chatbot is None:
        raise ValidationError([problem("No such chatbot.", "body", "chatbot")])
    flt = parse_filter(body.filter or [], target=Target.SESSION)
    return services.select_matching(
        team=team,
        chatbot=chatbot,
        filter=flt,
        sample_rate=body.sample_rate,
        sample_seed=services.sample_seed(dataset=dataset, rule_id=body.sample_as_rule),
    )


@router.post(
    "/datasets/{dataset_id}/import",
    response={200: ImportOut, 202: ImportJobOut, **answers(403)},
    summary="Import picked sessions, or every session a filter matches",
    description="Sources already in the dataset are skipped and counted. A sample is "
    "deterministic, as a rule's: `sample_as_rule` (a rule of this dataset) keeps exactly the "
    "sources that rule keeps at the same rate. Past "
    f"{services.LARGE_IMPORT_SOURCES} sources the import runs in the background: the answer "
    "is 202 with a job to poll at /datasets/{id}/jobs/{job_id}.",
)
def import_sessions(request: HttpRequest, dataset_id: int, body: ImportIn) -> Status[Any]:
    dataset = _dataset(request, dataset_id, Action.EDIT)
    outcome = services.import_sessions(dataset=dataset, selection=_selection(dataset, body))
    if outcome.job is not None:
        return Status(202, {"job": outcome.job})
    tally = outcome.tally or Tally()
    return Status(
        200,
        ImportOut(
            rows_added=tally.added,
            skipped=tally.skipped,
            sampled_out=tally.sampled_out,
            sessions=tally.sessions,
        ),
    )


@router.post(
    "/datasets/{dataset_id}/import/count",
    response=ImportCountOut,
    summary="Count what an import would read, before running it",
)
def count_import(request: HttpRequest, dataset_id: int, body: ImportIn) -> ImportCountOut:
    dataset = _dataset(request, dataset_id)
    count = services.count_import(dataset=dataset, selection=_selection(dataset, body))
    return ImportCountOut(
        sessions=count.sessions,
        sources=count.sources,
        expected_rows=count.expected,
        background=count.large,
    )


@router.get("/datasets/{dataset_id}/jobs/{job_id}", response=JobOut, summary="An import job")
def get_job(request: HttpRequest, dataset_id: int, job_id: int) -> ImportJob:
    dataset = _dataset(request, dataset_id)
    return get_for_team_or_404(dataset.import_jobs.all(), dataset.team, pk=job_id)


# CSV and copies


@router.post(
    "/datasets/{dataset_id}/csv",
    response={200: CsvOut, **answers(403)},
    summary="Upload rows as CSV (multipart field `file`)",
    description="All or nothing: any invalid row answers 422 listing each problem by row "
    "and column, and nothing is written. A row with an `id` updates that row, unless its "
    "cells say what the row already holds (`rows_unchanged`): a downloaded file uploads back "
    "unchanged.",
)
def upload_csv(request: HttpRequest, dataset_id: int, file: File[UploadedFile]) -> CsvOut:
    dataset = _dataset(request, dataset_id, Action.EDIT)
    try:
        written = services.upload_csv(dataset=dataset, file=file)
    except csvio.CsvInvalid as exc:
        raise ValidationError(csv_errors(exc)) from None
    return CsvOut(
        rows_added=written.added, rows_updated=written.updated, rows_unchanged=written.unchanged
    )


def csv_errors(exc: csvio.CsvInvalid) -> list[dict[str, Any]]:
    """The problems of a CSV upload, placed by row and column in the `file` part."""
    items = [
        problem(each.message, "file", "file", *(p for p in (each.row, each.column) if p))
        for each in exc.problems
    ]
    if exc.more:
        items.append(problem(f"… and {exc.more} more problems.", "file", "file"))
    return items


@router.get(
    "/datasets/{dataset_id}/csv",
    summary="Download the rows as CSV (streamed)",
    response={200: None},
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def download_csv(request: HttpRequest, dataset_id: int) -> StreamingHttpResponse:
    return csvio.download_response(_dataset(request, dataset_id))


@router.post(
    "/datasets/{dataset_id}/copy",
    response={200: CopyOut, **answers(403)},
    summary="Copy rows into another dataset of the same mode",
    description="All rows, or those of `row_ids`. Rows the target already holds a copy of, "
    "and rows whose source it already holds, are skipped and counted.",
)
def copy_rows(request: HttpRequest, dataset_id: int, body: CopyIn) -> CopyOut:
    source = _dataset(request, dataset_id, Action.EDIT)
    target = get_for_team_or_404(Dataset, source.team, pk=body.target)
    tally = services.copy_rows(source=source, target=target, row_ids=body.row_ids)
    return CopyOut(rows_added=tally.added, skipped=tally.skipped)
