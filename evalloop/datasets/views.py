"""Dataset pages: the list, a dataset with its rows, and the ways rows come in and go out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from evalloop.chat.models import Chatbot
from evalloop.datasets import csvio, services
from evalloop.datasets.forms import (
    AddSessionsForm,
    CopyForm,
    CsvUploadForm,
    DatasetEditForm,
    DatasetForm,
    ImportForm,
    RowForm,
)
from evalloop.datasets.models import Dataset, ImportJob, Row
from evalloop.datasets.snapshots import Tally
from evalloop.filters import (
    FilterError,
    FilterTimeout,
    Target,
    filter_from_querystring,
    filter_time_limit,
    read_filter_request,
)
from evalloop.lib.errors import Conflict, add_conflict
from evalloop.lib.sampling import IMPORT_SEED
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action
from evalloop.web.htmx import render_page

ROWS_PER_PAGE = 25
DETAIL = "datasets/dataset_detail.html"


def _dataset(request: TeamRequest, pk: int) -> Dataset:
    return get_for_team_or_404(Dataset.objects.with_row_count(), request.team, pk=pk)


def _row(dataset: Dataset, row_pk: int) -> Row:
    rows = dataset.rows.select_related("source_session__chatbot")
    return get_for_team_or_404(rows, dataset.team, pk=row_pk)


def _form_errors(form: Any, exc: ValidationError | Conflict) -> None:
    if isinstance(exc, Conflict):
        add_conflict(form, exc)
        return
    for message in exc.messages:
        form.add_error(None, message)


# The list


@team_view(Action.VIEW, write_methods=Action.EDIT)
def dataset_list(request: TeamRequest) -> HttpResponse:
    form = DatasetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dataset = services.create_dataset(team=request.team, **form.cleaned_data)
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Dataset {dataset.name} created.")
            return redirect("datasets:dataset-detail", pk=dataset.pk)
    datasets = Dataset.objects.for_team(request.team).with_row_count()
    return render(request, "datasets/dataset_list.html", {"datasets": datasets, "form": form})


# One dataset


def _rows_page(request: TeamRequest, dataset: Dataset) -> Any:
    query = request.GET.get("q", "")
    rows = dataset.rows.search(query).select_related("source_session__chatbot")
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    positions = dataset.row_positions(row.pk for row in page)
    for row in page:
        row.position = positions[row.pk]  # users number rows by place, never by id
    return page


def _rows_context(request: TeamRequest, dataset: Dataset) -> dict[str, Any]:
    query = request.GET.get("q", "")
    return {"dataset": dataset, "rows": _rows_page(request, dataset), "query": query}


@team_view()
def dataset_detail(request: TeamRequest, pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    context = {
        **_rows_context(request, dataset),
        "jobs": list(dataset.import_jobs.recent()[:3]),
        "copy_form": CopyForm(source=dataset),
    }
    return render_page(request, DETAIL, context, partial="rows")


@team_view(Action.EDIT)
def dataset_edit(request: TeamRequest, pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    initial = {"name": dataset.name, "description": dataset.description}
    form = DatasetEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_dataset(dataset=dataset, **form.cleaned_data)
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Dataset saved.")
            return redirect("datasets:dataset-detail", pk=dataset.pk)
    return render(request, "datasets/dataset_edit.html", {"dataset": dataset, "form": form})


@team_view(Action.EDIT)
def dataset_delete(request: TeamRequest, pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    if request.method != "POST":
        return render(request, "datasets/dataset_delete.html", {"dataset": dataset})
    try:
        services.delete_dataset(dataset=dataset)
    except Conflict as exc:
        messages.error(request, str(exc))
        return redirect("datasets:dataset-detail", pk=dataset.pk)
    messages.success(request, f"Dataset {dataset.name} deleted.")
    return redirect("datasets:dataset-list")


@team_view()
def job_progress(request: TeamRequest, pk: int, job_pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    job = get_for_team_or_404(ImportJob.objects.filter(dataset=dataset), request.team, pk=job_pk)
    return render(request, f"{DETAIL}#job", {"dataset": dataset, "job": job})


# Rows by hand


def _row_form(request: TeamRequest, dataset: Dataset, row: Row | None) -> HttpResponse:
    form = RowForm(request.POST or None, instance=row or Row(dataset=dataset))
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if row is None:
                saved = services.add_row(dataset=dataset, values=values)
            else:
                saved = services.edit_row(row=row, changes=values)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Row {saved.position} {'saved' if row else 'added'}.")
            return redirect("datasets:row-detail", pk=dataset.pk, row_pk=saved.pk)
    context = {"dataset": dataset, "row": row, "form": form}
    return render(request, "datasets/row_form.html", context)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _original(team: Team, row: Row) -> Row | None:
    """The row a copy was made from, when it still exists (it is always of the same team)."""
    if row.copied_from_id is None:
        return None
    found = Row.objects.for_team(team).select_related("dataset").filter(pk=row.copied_from_id)
    return found.first()


@require_safe
@team_view()
def row_detail(request: TeamRequest, pk: int, row_pk: int) -> HttpResponse:
    """The whole row, read-only: content, history, context, provenance; editors get links."""
    dataset = _dataset(request, pk)
    row = _row(dataset, row_pk)
    mappings = [
        (label, _pretty(getattr(row, name)))
        for name, label in (
            ("context", "Context"),
            ("participant_data", "Participant data"),
            ("state", "State"),
        )
    ]
    context = {
        "dataset": dataset,
        "row": row,
        "mappings": mappings,
        "original": _original(request.team, row),
    }
    return render(request, "datasets/row_detail.html", context)


@team_view(Action.EDIT)
def row_create(request: TeamRequest, pk: int) -> HttpResponse:
    return _row_form(request, _dataset(request, pk), None)


@team_view(Action.EDIT)
def row_edit(request: TeamRequest, pk: int, row_pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    return _row_form(request, dataset, _row(dataset, row_pk))


@team_view(Action.EDIT)
def row_delete(request: TeamRequest, pk: int, row_pk: int) -> HttpResponse:
    """GET asks first; POST (a plain form) or DELETE (htmx, from the rows table) deletes.

    htmx gets the rows table back (the rows after the deleted one move up a place); a
    refusal reloads the page, which says why.
    """
    dataset = _dataset(request, pk)
    row = _row(dataset, row_pk)
    if request.method not in ("POST", "DELETE"):
        return render(request, "datasets/row_delete.html", {"dataset": dataset, "row": row})
    response = _delete_row(request, dataset, row)
    if request.htmx and isinstance(response, HttpResponseRedirect):
        return HttpResponseClientRedirect(response.url)
    return response


def _delete_row(request: TeamRequest, dataset: Dataset, row: Row) -> HttpResponse:
    position = row.position
    try:
        services.delete_row(row=row)
    except Conflict as exc:
        messages.error(request, str(exc))
        return redirect("datasets:dataset-detail", pk=dataset.pk)
    if request.htmx:
        return render(request, f"{DETAIL}#rows", _rows_context(request, dataset))
    messages.success(request, f"Row {position} deleted.")
    return redirect("datasets:dataset-detail", pk=dataset.pk)


# CSV


@team_view()
def csv_download(request: TeamRequest, pk: int) -> HttpResponse:
    # Streamed: not an HttpResponse subclass, though views may answer it all the same.
    return csvio.download_response(_dataset(request, pk))  # type: ignore[return-value]


@team_view(Action.EDIT)
def csv_upload(request: TeamRequest, pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    problems: csvio.CsvInvalid | None = None
    if request.method == "POST" and form.is_valid():
        try:
            written = services.upload_csv(dataset=dataset, file=form.cleaned_data["file"])
        except csvio.CsvInvalid as exc:
            problems = exc
        else:
            messages.success(request, _written_text(written))
            return redirect("datasets:dataset-detail", pk=dataset.pk)
    context = {"dataset": dataset, "form": form, "problems": problems}
    return render(request, "datasets/csv_upload.html", context)


def _written_text(written: csvio.Written) -> str:
    text = f"{written.added} row{pluralize(written.added)} added, {written.updated} updated"
    return text + (f", {written.unchanged} unchanged." if written.unchanged else ".")


# Copies


@team_view(Action.EDIT)
@require_POST
def copy_rows(request: TeamRequest, pk: int) -> HttpResponse:
    dataset = _dataset(request, pk)
    form = CopyForm(request.POST, source=dataset)
    if not form.is_valid():
        messages.error(request, _form_text(form))
        return redirect("datasets:dataset-detail", pk=dataset.pk)
    target = form.cleaned_data["target"]
    row_ids = None if form.cleaned_data["all_rows"] else form.cleaned_data["row"]
    try:
        tally = services.copy_rows(source=dataset, target=target, row_ids=row_ids)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("datasets:dataset-detail", pk=dataset.pk)
    messages.success(request, f"Copied into {target.name}: {_tally_text(tally)}")
    return redirect("datasets:dataset-detail", pk=dataset.pk)


# Imports from traffic


def _tally_text(tally: Tally) -> str:
    rows = f"{tally.added} row{pluralize(tally.added)}"
    text = f"{rows} added, {tally.skipped} already in the dataset (skipped)"
    if tally.sampled_out:
        text += f", {tally.sampled_out} left out by the sample"
    return text + "."


def _announce(request: HttpRequest, dataset: Dataset, outcome: services.ImportOutcome) -> None:
    if outcome.job is not None:
        messages.info(
            request,
            f"Importing {outcome.job.total} session{pluralize(outcome.job.total)} "
            f"into {dataset.name} in the background; "
            "follow it on the dataset page.",
        )
    elif outcome.tally is not None:
        messages.success(request, f"{dataset.name}: {_tally_text(outcome.tally)}")


def _import(
    request: TeamRequest, dataset: Dataset, selection: services.Selection
) -> ValidationError | None:
    try:
        outcome = services.import_sessions(
            dataset=dataset,
            selection=selection,
            created_by=request.user,
        )
    except ValidationError as exc:
        return exc
    _announce(request, dataset, outcome)
    return None


def _matching(
    request: TeamRequest, chatbot: Chatbot, querystring: str, form: ImportForm | None = None
) -> services.Selection:
    try:
        flt = filter_from_querystring(querystring, target=Target.SESSION)
    except FilterError as exc:
        raise ValidationError(f"The filter is invalid: {exc}") from None
    return services.select_matching(
        team=request.team,
        chatbot=chatbot,
        filter=flt,
        sample_rate=form.sample_rate if form else None,
        sample_seed=form.sample_seed if form else IMPORT_SEED,
    )


@team_view(Action.EDIT)
def import_matching(request: TeamRequest, pk: int) -> HttpResponse:
    """Import what a filter matches on a chatbot: pick, see the count, then confirm."""
    dataset = _dataset(request, pk)
    if request.method == "POST":
        return _confirm_import(request, dataset)
    state = read_filter_request(request, target=Target.SESSION)
    if state.redirect_to:
        return redirect(state.redirect_to)
    data = request.GET if "chatbot" in request.GET else None
    form = ImportForm(data, team=request.team, dataset=dataset)
    count = None
    if form.is_valid() and not state.errors:
        selection = services.select_matching(
            team=request.team,
            chatbot=form.cleaned_data["chatbot"],
            filter=state.filter,
            sample_rate=form.sample_rate,
            sample_seed=form.sample_seed,
        )
        count = services.count_import(dataset=dataset, selection=selection)
    context = {"dataset": dataset, "form": form, "filter_state": state, "count": count}
    return render(request, "datasets/import.html", context)


def _confirm_import(request: TeamRequest, dataset: Dataset) -> HttpResponse:
    form = ImportForm(request.POST, team=request.team, dataset=dataset)
    problem: ValidationError | None = ValidationError(_form_text(form))
    if form.is_valid():
        try:
            selection = _matching(
                request, form.cleaned_data["chatbot"], request.POST.get("filter", ""), form
            )
        except ValidationError as exc:
            problem = exc
        else:
            problem = _import(request, dataset, selection)
    if problem is None:
        return redirect("datasets:dataset-detail", pk=dataset.pk)
    messages.error(request, "Nothing imported: " + " ".join(problem.messages))
    return redirect("datasets:import", pk=dataset.pk)


def _form_text(form: Any) -> str:
    return " ".join(str(m) for ms in form.errors.values() for m in ms)


# The sessions list's "Add to dataset"


def _safe_next(request: HttpRequest, target: str) -> str | None:
    """Answer `target` if it is a URL of this site; anything else (a view name too) is None."""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and urlsplit(target).path.startswith("/") else None


def _querystring_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def _count_matching(request: TeamRequest) -> int | None:
    chatbot = team_objects(Chatbot, request.team).filter(slug=request.GET.get("chatbot")).first()
    if chatbot is None:
        return None
    try:
        selection = _matching(request, chatbot, _querystring_without(request, "chatbot"))
        with filter_time_limit():
            return int(selection.sessions().count())
    except (ValidationError, FilterTimeout):  # the sessions list above says what is wrong
        return None


LAST_DATASET_KEY = "evalloop_last_dataset_id"


def _add_sessions_form(request: TeamRequest) -> HttpResponse:
    """The form the sessions list loads, with the count of what its filter matches."""
    initial = {
        "chatbot": request.GET.get("chatbot", ""),
        "filter": _querystring_without(request, "chatbot"),
        "next": getattr(request.htmx, "current_url", None) or "",
        "dataset": request.session.get(LAST_DATASET_KEY),
    }
    form = AddSessionsForm(initial=initial, team=request.team)
    context = {"form": form, "matching": _count_matching(request)}
    return render(request, "datasets/add_sessions.html", context)


def _add_picked(request: TeamRequest, form: AddSessionsForm) -> ValidationError | None:
    data = form.cleaned_data
    try:
        if data["all_matching"]:
            selection = _matching(request, data["chatbot"], data["filter"])
        else:
            selection = services.select_sessions(team=request.team, session_ids=data["session"])
    except ValidationError as exc:
        return exc
    request.session[LAST_DATASET_KEY] = data["dataset"].pk  # offered first next time
    return _import(request, data["dataset"], selection)


@team_view(Action.EDIT)
def add_sessions(request: TeamRequest) -> HttpResponse:
    """GET: the "Add to dataset" form; POST: add the picked sessions, or all matching."""
    if request.method != "POST":
        return _add_sessions_form(request)
    form = AddSessionsForm(request.POST, team=request.team)
    problem = _add_picked(request, form) if form.is_valid() else ValidationError(_form_text(form))
    if problem is not None:
        messages.error(request, "Nothing added: " + " ".join(problem.messages))
    next_url = _safe_next(request, request.POST.get("next", ""))
    if next_url:
        # Not redirect(): it would read a bare word as the name of a view.
        return HttpResponseRedirect(next_url)
    if problem is None:
        return redirect("datasets:dataset-detail", pk=form.cleaned_data["dataset"].pk)
    return redirect("datasets:dataset-list")
