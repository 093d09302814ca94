"""Operations on configs and runs: create and edit configs, start, cancel and re-run runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from functools import partial
from itertools import islice
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from evalloop.datasets.models import Dataset
from evalloop.datasets.services import lock_dataset
from evalloop.evaluators.models import Evaluator
from evalloop.lib.arrays import id_in
from evalloop.lib.errors import Conflict
from evalloop.lib.locking import lock_or_404
from evalloop.runs.models import (
    UNFINISHED,
    Batch,
    BatchStatus,
    Config,
    Result,
    Run,
    RunEvaluator,
    RunRow,
    RunStatus,
    RunType,
    Trigger,
)
from evalloop.teams.models import Team, User

# Bounds of what a config may ask for.
MAX_EVALUATORS = 20
MAX_DAILY_ROW_CAP = 1_000_000
MAX_MINUTES_BETWEEN_RUNS = 7 * 24 * 60
MAX_SAMPLE_SIZE = 1_000
# Plan rows (and batches) written per bulk insert: memory stays flat for any dataset.
PLAN_CHUNK = 2_000


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET


# Configs


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A config needs a name."})
    if len(name) > 200:
        raise ValidationError({"name": "At most 200 characters."})
    return name


def _check_name_free(team: Team, name: str, *, exclude: int | None = None) -> None:
    taken = Config.objects.for_team(team).filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(f"A config named {name!r} already exists in this team.", field="name")


def _check_dataset(team: Team, dataset: Dataset) -> Dataset:
    if dataset.team_id != team.pk:
        raise ValidationError({"dataset": "No such dataset in this team."})
    return dataset


def _clean_evaluators(team: Team, evaluators: Sequence[Evaluator]) -> list[Evaluator]:
    unique = list({evaluator.pk: evaluator for evaluator in evaluators}.values())
    if not unique:
        raise ValidationError({"evaluators": "Pick at least one evaluator."})
    if len(unique) > MAX_EVALUATORS:
        raise ValidationError({"evaluators": f"At most {MAX_EVALUATORS} evaluators."})
    if any(evaluator.team_id != team.pk for evaluator in unique):
        raise ValidationError({"evaluators": "No such evaluator in this team."})
    return unique


def _clean_limit(field: str, value: int | None, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError({field: f"Leave it empty, or a whole number from 1 to {maximum}."})
    return value


@transaction.atomic
def create_config(
    *,
    team: Team,
    name: str,
    dataset: Dataset,
    evaluators: Sequence[Evaluator],
    auto_run_on_append: bool = False,
    daily_row_cap: int | None = None,
    min_minutes_between_runs: int | None = None,
    created_by: User | None = None,
) -> Config:
    name = _clean_name(name)
    chosen = _clean_evaluators(team, evaluators)
    config = Config(
        team=team,
        name=name,
        dataset=_check_dataset(team, dataset),
        auto_run_on_append=auto_run_on_append,
        daily_row_cap=_clean_limit("daily_row_cap", daily_row_cap, MAX_DAILY_ROW_CAP),
        min_minutes_between_runs=_clean_limit(
            "min_minutes_between_runs", min_minutes_between_runs, MAX_MINUTES_BETWEEN_RUNS
        ),
        created_by=created_by,
    )
    _check_name_free(team, name)
    config.save()
    config.evaluators.set(chosen)
    return config


@transaction.atomic
def update_config(
    *,
    config: Config,
    name: str | _Unset = UNSET,
    dataset: Dataset | _Unset = UNSET,
    evaluators: Sequence[Evaluator] | _Unset = UNSET,
    auto_run_on_append: bool | _Unset = UNSET,
    daily_row_cap: int | _Unset | None = UNSET,
    min_minutes_between_runs: int | _Unset | None = UNSET,
) -> Config:
    """Change the given fields only; runs already started keep their frozen plan."""
    config = lock_or_404(config)
    team = config.team
    if not isinstance(name, _Unset):
        config.name = _clean_name(name)
        _check_name_free(team, config.name, exclude=config.pk)
    if not isinstance(dataset, _Unset):
        config.dataset = _check_dataset(team, dataset)
    if not isinstance(auto_run_on_append, _Unset):
        config.auto_run_on_append = auto_run_on_append
    if not isinstance(daily_row_cap, _Unset):
        config.daily_row_cap = _clean_limit("daily_row_cap", daily_row_cap, MAX_DAILY_ROW_CAP)
    if not isinstance(min_minutes_between_runs, _Unset):
        config.min_minutes_between_runs = _clean_limit(
            "min_minutes_between_runs", min_minutes_between_runs, MAX_MINUTES_BETWEEN_RUNS
        )
    if not isinstance(evaluators, _Unset):
        config.evaluators.set(_clean_evaluators(team, evaluators))
    config.updated_at = timezone.now()
    config.save()
    return config


@transaction.atomic
def delete_config(*, config: Config) -> None:
    config = lock_or_404(config)
    if config.runs.filter(status__in=UNFINISHED).exists():
        raise Conflict("A run of this config is unfinished; cancel it or wait for it to end.")
    config.delete()


# Runs


@transaction.atomic
def start_run(
    *,
    config: Config,
    type: RunType | str,
    trigger: Trigger | str,
    triggered_by: User | None = None,
    trigger_label: str = "",
    sample_size: int = 10,
    row_ids: Sequence[int] | None = None,
) -> Run:
    """Freeze a plan (rows x the evaluators' current versions) and its batches; start on commit.

    `full` takes every row the dataset holds now, `preview` a random sample of `sample_size`
    rows, `delta` the given `row_ids` of the dataset. Nothing runs before the caller's
    transaction commits, and nothing ever runs if it rolls back.
    """
    _check_run_request(type, trigger, sample_size, row_ids)
    lock_dataset(config.dataset)  # a dataset being deleted is waited for, then a 404
    plan = _current_versions(config)
    scope = _scope(config.dataset, type, sample_size, row_ids)
    # A sample's or a delta's size is known before the run exists; a full run's is counted
    # as its plan is written.
    size = len(scope) if isinstance(scope, list) else None
    if size == 0:
        raise ValidationError({"dataset": "The dataset has no rows to evaluate."})
    run = Run.objects.create(
        team_id=config.team_id,
        config=config,
        type=type,
        trigger=trigger,
        triggered_by=triggered_by,
        trigger_label=(trigger_label or (triggered_by.email if triggered_by else ""))[:300],
        scope_size=size or 0,
        total=(size or 0) * len(plan),
    )
    RunEvaluator.objects.bulk_create(
        RunEvaluator(run=run, evaluator=evaluator, version_id=version_id, position=i)
        for i, (evaluator, version_id) in enumerate(plan)
    )
    frozen = _freeze_rows(run, scope)
    if size is None:
        if not frozen:
            raise ValidationError({"dataset": "The dataset has no rows to evaluate."})
        run.scope_size, run.total = frozen, frozen * len(plan)
        run.save(update_fields=["scope_size", "total"])
    _create_batches(run, 0, run.scope_size - 1)
    _kick_on_commit(run)
    return run


def _check_run_request(
    type: str, trigger: str, sample_size: int, row_ids: Sequence[int] | None
) -> None:
    if type not in RunType.values:
        raise ValidationError({"type": f"Must be one of: {', '.join(RunType.values)}."})
    if trigger not in Trigger.values:
        raise ValidationError({"trigger": f"Must be one of: {', '.join(Trigger.values)}."})
    if type == RunType.PREVIEW and not 1 <= sample_size <= MAX_SAMPLE_SIZE:
        raise ValidationError({"sample_size": f"A whole number from 1 to {MAX_SAMPLE_SIZE}."})
    if (type == RunType.DELTA) != (row_ids is not None):
        raise ValidationError({"row_ids": "A delta run, and only a delta run, takes row ids."})


def _current_versions(config: Config) -> list[tuple[Evaluator, int]]:
    """The config's evaluators with the id of their current version, in name order."""
    evaluators = list(config.evaluators.order_by("name", "pk"))
    if not evaluators:
        raise ValidationError({"evaluators": "This config has no evaluators; add one first."})
    plan = [(evaluator, evaluator.version_id) for evaluator in evaluators]
    unversioned = [evaluator.name for evaluator, version_id in plan if version_id is None]
    if unversioned:
        raise ValidationError(
            {"evaluators": f"Save these evaluators again first: {', '.join(unversioned)}."}
        )
    return [(evaluator, version_id) for evaluator, version_id in plan if version_id is not None]


def _scope(
    dataset: Dataset, type: str, sample_size: int, row_ids: Sequence[int] | None
) -> Iterable[int]:
    """The plan's row ids in position order, streamed from the database for a full run."""
    rows = dataset.rows.order_by("pk").values_list("pk", flat=True)
    if type == RunType.PREVIEW:
        return sorted(rows.order_by("?")[:sample_size])
    if type == RunType.DELTA:
        return _delta_scope(dataset, row_ids or [])
    return rows.iterator(chunk_size=PLAN_CHUNK)


def _delta_scope(dataset: Dataset, row_ids: Sequence[int]) -> list[int]:
    wanted = sorted(set(row_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), PLAN_CHUNK):
        chunk = wanted[start : start + PLAN_CHUNK]
        found.update(dataset.rows.filter(id_in("pk", chunk)).values_list("pk", flat=True))
    missing = [row_id for row_id in wanted if row_id not in found]
    if missing:
        listed = ", ".join(str(i) for i in missing[:20])
        raise ValidationError({"row_ids": f"Not rows of this dataset: {listed}."})
    return wanted


def _freeze_rows(run: Run, row_ids: Iterable[int]) -> int:
    """Write a plan row per id, numbered from 0, a chunk at a time; answer how many."""
    position = 0
    ids = iter(row_ids)
    while chunk := list(islice(ids, PLAN_CHUNK)):
        _insert_plan_rows(run, chunk, position)
        position += len(chunk)
    return position


def _insert_plan_rows(run: Run, row_ids: list[int], first: int) -> None:
    if connection.vendor != "postgresql":
        RunRow.objects.bulk_create(
            RunRow(run=run, row_id=row_id, position=first + i) for i, row_id in enumerate(row_ids)
        )
        return
    # One array rather than a model instance and three parameters per plan row.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RunRow._meta.db_table} (run_id, row_id, position) "
            "SELECT %s, r, %s + n - 1 FROM unnest(%s::bigint[]) WITH ORDINALITY AS p(r, n)",
            [run.pk, first, row_ids],
        )


def _create_batches(run: Run, first: int, last: int) -> None:
    size: int = settings.EVALLOOP_RUN_BATCH_ROWS
    starts = iter(range(first, last + 1, size))
    while chunk := list(islice(starts, PLAN_CHUNK)):
        Batch.objects.bulk_create(
            Batch(run=run, first_position=start, last_position=min(start + size, last + 1) - 1)
            for start in chunk
        )


def _kick_on_commit(run: Run) -> None:
    from evalloop.runs import tasks  # tasks call back into the engine, which imports this

    transaction.on_commit(partial(tasks.drive_run.delay, run.pk))


@transaction.atomic
def cancel_run(*, run: Run) -> Run:
    """Stop dispatching the run's batches; batches already running write nothing more."""
    run = lock_or_404(run)
    if run.is_finished:
        raise Conflict(f"This run is already {run.status}.")
    now = timezone.now()
    run.status = RunStatus.CANCELLED
    run.finished_at = now
    run.save(update_fields=["status", "finished_at"])
    _finalize_on_commit(run)
    return run


def _finalize_on_commit(run: Run) -> None:
    from evalloop.runs import tasks

    transaction.on_commit(partial(tasks.compute_aggregates.delay, run.pk))


@transaction.atomic
def rerun_failed(*, run: Run, triggered_by: User | None = None) -> Run:
    """Re-open a finished run to evaluate again only its pairs that ended in an error.

    The same run goes back to pending: its error results are deleted, the batches holding
    them wait again, its aggregates are cleared. Good results and their tokens stay;
    so do the tokens and cost the deleted errors spent, which the run's totals keep.
    """
    run = lock_or_404(run)
    if not run.is_finished:
        raise Conflict("This run is unfinished; re-run its failures once it ends.")
    if run.status == RunStatus.CANCELLED:
        # Re-opened, it would also evaluate every pair the cancel stopped.
        raise Conflict("This run was cancelled; start a new run to evaluate its rows again.")
    errors = Result.objects.filter(run=run).exclude(error="")
    if not errors.exists():
        raise Conflict("This run has no failed evaluations to re-run.")
    _reopen_batches(run, errors)
    removed, _ = errors.delete()
    run.aggregates.all().delete()
    _reopen(run, removed, triggered_by)
    _kick_on_commit(run)
    return run


def _reopen_batches(run: Run, errors: Any) -> None:
    failed_rows = RunRow.objects.filter(
        run=run,
        position__gte=OuterRef("first_position"),
        position__lte=OuterRef("last_position"),
        row_id__in=errors.values("row_id"),
    )
    # A batch left dispatched when the run ended (a lost one, or one the run failed on)
    # waits again too, with its attempts forgotten, or the next pass would fail the run anew.
    left_running = Q(status=BatchStatus.RUNNING)
    run.batches.filter(Exists(failed_rows) | left_running).update(
        status=BatchStatus.PENDING, attempts=0, lease_expires_at=None, updated_at=timezone.now()
    )


def _reopen(run: Run, removed: int, triggered_by: User | None) -> None:
    run.status = RunStatus.PENDING
    run.done = max(0, run.done - removed)
    run.errors = 0
    run.stalls = 0
    run.error = ""
    run.finished_at = None
    run.finalized_at = None
    run.last_progress_at = timezone.now()
    if triggered_by is not None:
        run.triggered_by = triggered_by
        run.trigger_label = triggered_by.email
    run.save()
