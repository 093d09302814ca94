"""Operations on datasets and their rows: create, edit, import, upload, copy."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from evalloop.chat.models import Chatbot, Message, Role, Session
from evalloop.datasets import csvio
from evalloop.datasets.models import (
    ROW_CONTENT_FIELDS,
    Dataset,
    ImportJob,
    Mode,
    Origin,
    Row,
)
from evalloop.datasets.snapshots import (
    Keep,
    Tally,
    add_new_rows,
    build_rows,
    existing_sources,
    insert_rows,
    session_id_chunks,
    source_key,
)
from evalloop.filters import Filter, Target, apply_filter, parse_filter
from evalloop.lib import busy
from evalloop.lib.errors import Conflict
from evalloop.lib.inputs import valid_id
from evalloop.lib.locking import lock_or_404
from evalloop.lib.sampling import IMPORT_SEED, sampled_in
from evalloop.runs.models import Run
from evalloop.teams.access import team_objects
from evalloop.teams.models import Team, User

logger = logging.getLogger(__name__)

# Imports of more sources than this run as a background job with a progress bar.
LARGE_IMPORT_SOURCES = 2_000
# Picked sessions travel as a list of ids; more than this is a filter's job.
MAX_PICKED_SESSIONS = 10_000
# Rows a copy writes per transaction (short: on SQLite traffic waits for the lock).
COPY_CHUNK = 250

# Validation of a row's content only: the foreign keys are set by the services themselves.
_NOT_CONTENT = ["dataset", "source_session", "source_human_message", "source_ai_message"]


# Datasets


def _check_name_free(team: Team, name: str, *, exclude: int | None = None) -> None:
    taken = Dataset.objects.for_team(team).filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(f"A dataset named {name!r} already exists in this team.", field="name")


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A dataset needs a name."})
    if len(name) > 200:
        raise ValidationError({"name": "At most 200 characters."})
    return name


@transaction.atomic
def create_dataset(*, team: Team, name: str, mode: str, description: str = "") -> Dataset:
    name = _clean_name(name)
    if mode not in Mode.values:
        raise ValidationError({"mode": f"Must be one of: {', '.join(Mode.values)}."})
    _check_name_free(team, name)
    return Dataset.objects.create(team=team, name=name, mode=mode, description=description)


@transaction.atomic
def update_dataset(
    *, dataset: Dataset, name: str | None = None, description: str | None = None
) -> Dataset:
    """Rename or describe a dataset; its mode is fixed at creation."""
    lock_or_404(dataset)
    if name is not None:
        dataset.name = _clean_name(name)
        _check_name_free(dataset.team, dataset.name, exclude=dataset.pk)
    if description is not None:
        dataset.description = description
    dataset.save(update_fields=["name", "description"])
    return dataset


@transaction.atomic
def delete_dataset(*, dataset: Dataset) -> None:
    # Every writer of rows locks the dataset first: waiting for that lock before the delete
    # reads which rows to take along means a row added meanwhile goes too, rather than
    # failing the delete on its foreign key.
    lock_dataset(dataset)
    if dataset.import_jobs.active().exists():
        raise Conflict("An import into this dataset is still running; delete it when it ends.")
    if Run.objects.using_dataset(dataset).exists():
        raise Conflict("A run over this dataset is unfinished; cancel it or wait for it to end.")
    dataset.delete()


# Rows by hand


EMPTY_ROW = "A row needs some content: fill in at least one field."


def _clean_row(row: Row) -> Row:
    try:
        row.clean_fields(exclude=_NOT_CONTENT)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    if not row.has_content():
        raise ValidationError(EMPTY_ROW)
    return row


def _unknown_fields(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(ROW_CONTENT_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Not a row field."))


@transaction.atomic
def add_row(*, dataset: Dataset, values: Mapping[str, Any], origin: str = Origin.MANUAL) -> Row:
    _unknown_fields(values)
    lock_or_404(dataset)
    row = _clean_row(Row(dataset=dataset, origin=origin, **values))
    row.save()
    return row


@transaction.atomic
def edit_row(*, row: Row, changes: Mapping[str, Any]) -> Row:
    """Change a row's content; its provenance stays and it is marked edited."""
    lock_or_404(row)
    _unknown_fields(changes)
    for name, value in changes.items():
        setattr(row, name, value)
    _clean_row(row)
    row.edited_at = timezone.now()
    row.save(update_fields=[*changes, "edited_at"])
    return row


@transaction.atomic
def delete_row(*, row: Row) -> None:
    # Runs freeze their plan under the dataset's lock: one starting now waits, then
    # leaves this row out; one already started keeps it until it ends.
    lock_dataset(row.dataset)
    if Run.objects.using_rows([row.pk]).exists():
        raise Conflict("An unfinished run evaluates this row; delete it once the run ends.")
    row.delete()


# Imports from traffic


@dataclass(frozen=True)
class Selection:
    """The sessions an import reads: picked by id, or what a filter matches on a chatbot."""

    team: Team
    session_ids: tuple[int, ...] | None = None
    chatbot: Chatbot | None = None
    filter: Filter | None = None
    sample_rate: float | None = None
    # Whose sample: a rule's id keeps exactly the sources that rule keeps at the same rate.
    sample_seed: int | str = IMPORT_SEED

    def sessions(self) -> Any:
        found = team_objects(Session, self.team)
        if self.session_ids is not None:
            return found.filter(id__in=self.session_ids)
        found = found.filter(chatbot=self.chatbot)
        return apply_filter(found, self.filter, team=self.team) if self.filter else found

    def to_params(self) -> dict[str, Any]:
        if self.session_ids is not None:
            return {"session_ids": list(self.session_ids)}
        return {
            "chatbot_id": self.chatbot.pk if self.chatbot else None,
            "filter": self.filter.to_json() if self.filter else [],
            "sample_rate": self.sample_rate,
            "sample_seed": self.sample_seed,
        }


def select_sessions(*, team: Team, session_ids: Iterable[int]) -> Selection:
    """A selection of picked sessions; every id must be a session of `team`."""
    wanted = set(session_ids)
    if not wanted:
        raise ValidationError({"session_ids": "Pick at least one session."})
    if len(wanted) > MAX_PICKED_SESSIONS:
        raise ValidationError(
            {"session_ids": f"At most {MAX_PICKED_SESSIONS} ids; import by filter instead."}
        )
    found = set(team_objects(Session, team).filter(id__in=wanted).values_list("id", flat=True))
    missing = sorted(wanted - found)
    if missing:
        listed = ", ".join(str(i) for i in missing[:20])
        raise ValidationError({"session_ids": f"No session with id {listed} in this team."})
    return Selection(team=team, session_ids=tuple(sorted(wanted)))


def select_matching(
    *,
    team: Team,
    chatbot: Chatbot,
    filter: Filter | None,
    sample_rate: float | None = None,
    sample_seed: int | str = IMPORT_SEED,
) -> Selection:
    """A selection of what `filter` matches on `chatbot`, optionally sampled (0 < rate <= 1).

    The sample is the rules' deterministic one (`lib/sampling.py`): with a rule's id as
    `sample_seed` it keeps exactly the sources that rule keeps at the same rate.
    """
    if chatbot.team_id != team.pk:
        raise ValidationError({"chatbot": "No such chatbot in this team."})
    if sample_rate is not None and not 0 < sample_rate <= 1:
        raise ValidationError({"sample_rate": "Must be more than 0 and at most 1."})
    return Selection(
        team=team, chatbot=chatbot, filter=filter, sample_rate=sample_rate, sample_seed=sample_seed
    )


def sample_seed(*, dataset: Dataset, rule_id: int | None) -> int | str:
    """The seed of an import's sample: one of the dataset's rules, or the imports' own."""
    if rule_id is None:
        return IMPORT_SEED
    if not valid_id(rule_id) or not dataset.rules.filter(pk=rule_id).exists():
        raise ValidationError({"sample_as_rule": "This dataset has no such rule."})
    return rule_id


@dataclass(frozen=True)
class ImportCount:
    sessions: int
    sources: int  # rows it would add before skipping and sampling
    sample_rate: float | None

    @property
    def expected(self) -> int:
        return round(self.sources * (self.sample_rate or 1))

    @property
    def large(self) -> bool:
        return self.sources > LARGE_IMPORT_SOURCES


def count_import(*, dataset: Dataset, selection: Selection) -> ImportCount:
    """How many sessions a selection covers, and how many rows they would make."""
    sessions = selection.sessions()
    count = sessions.count()
    sources = count
    if dataset.mode == Mode.MESSAGE:
        sources = Message.objects.filter(session__in=sessions, role=Role.AI).count()
    return ImportCount(sessions=count, sources=sources, sample_rate=selection.sample_rate)


@dataclass(frozen=True)
class ImportOutcome:
    """Either the counts of an import done now, or the job doing it in the background."""

    tally: Tally | None = None
    job: ImportJob | None = None


def sampler(selection: Selection) -> Keep | None:
    """Keep a row by its source as rules do: the AI reply in message mode, else the session."""
    rate = selection.sample_rate
    if rate is None or rate >= 1:
        return None

    def keep(row: Row) -> bool:
        source = row.source_ai_message_id or row.source_session_id or 0
        return sampled_in(seed=selection.sample_seed, source_id=source, rate=rate)

    return keep


def import_sessions(
    *, dataset: Dataset, selection: Selection, created_by: User | None = None
) -> ImportOutcome:
    """Add a row per source of the selection, skipping sources the dataset already holds.

    Up to LARGE_IMPORT_SOURCES sources it happens now: the rows are built from the traffic
    first, then written in one short transaction. Beyond, a job is created and its task
    enqueued once the job is committed.
    """
    count = count_import(dataset=dataset, selection=selection)
    if count.large:
        return ImportOutcome(job=_start_job(dataset, selection, count, created_by))
    candidates: list[Row] = []
    sessions = 0
    for ids in session_id_chunks(selection.sessions()):
        candidates += build_rows(dataset=dataset, session_ids=ids, origin=Origin.IMPORT)
        sessions += len(ids)
    with transaction.atomic():
        lock_dataset(dataset)
        tally = add_new_rows(dataset=dataset, candidates=candidates, keep=sampler(selection))
    tally.sessions = sessions
    return ImportOutcome(tally=tally)


def lock_dataset(dataset: Dataset) -> None:
    # Imports into one dataset take turns, so two of them never add the same source twice;
    # a dataset deleted meanwhile answers 404 rather than rows that point nowhere.
    lock_or_404(dataset)


def _start_job(
    dataset: Dataset, selection: Selection, count: ImportCount, created_by: User | None
) -> ImportJob:
    from evalloop.datasets import tasks  # tasks call back into this module

    with transaction.atomic():
        lock_dataset(dataset)  # a job for a dataset deleted meanwhile would point nowhere
        job = ImportJob.objects.create(
            dataset=dataset,
            params=selection.to_params(),
            total=count.sessions,
            created_by=created_by,
        )
        transaction.on_commit(partial(tasks.run_import.delay, job.pk))
    return job


def selection_from_params(team: Team, params: Mapping[str, Any]) -> Selection:
    if "session_ids" in params:
        return Selection(team=team, session_ids=tuple(params["session_ids"]))
    chatbot = team_objects(Chatbot, team).get(pk=params["chatbot_id"])
    flt = parse_filter(params.get("filter") or [], target=Target.SESSION)
    return Selection(
        team=team,
        chatbot=chatbot,
        filter=flt,
        sample_rate=params.get("sample_rate"),
        sample_seed=params.get("sample_seed", IMPORT_SEED),
    )


# CSV


def upload_csv(*, dataset: Dataset, file: IO[bytes]) -> csvio.Written:
    """Add (and, for rows with an id, update) rows from a CSV, all or nothing.

    The whole file is validated first; any invalid row raises `csvio.CsvInvalid` with a
    per-row report, and nothing is written. Then it is written a batch at a time, each
    batch a short transaction of its own, so that on SQLite other writers (traffic first of
    all) get in between; if a batch still fails, those already written are undone before
    the error goes on.
    """
    plan = csvio.validate(file, dataset=dataset)
    undo = csvio.Undo()
    try:
        for batch in csvio.batches(file, plan):
            undo += busy.bulk_step(partial(_write_csv_batch, dataset, plan, batch))
    except BaseException:
        _undo_upload(dataset, undo)
        raise
    return csvio.Written(added=len(undo.added), updated=undo.updated, unchanged=undo.unchanged)


def _write_csv_batch(
    dataset: Dataset, plan: csvio.Plan, batch: list[tuple[int | None, dict[str, Any]]]
) -> csvio.Undo:
    with transaction.atomic():
        lock_dataset(dataset)
        return csvio.write_batch(batch, dataset=dataset, plan=plan)


def _undo_upload(dataset: Dataset, undo: csvio.Undo) -> None:
    if not undo.added and not undo.previous:
        return
    try:
        busy.retry_when_busy(partial(_apply_undo, dataset, undo))
    except Http404:
        pass  # the dataset was deleted meanwhile, and the rows written went with it
    except Exception:
        logger.exception(
            "Could not undo a failed CSV upload into dataset %s: %d rows stay.",
            dataset.pk,
            len(undo.added),
        )


def _apply_undo(dataset: Dataset, undo: csvio.Undo) -> None:
    with transaction.atomic():
        lock_dataset(dataset)
        undo.apply()


# Copies


def _copy_of(row: Row, target: Dataset) -> Row:
    return Row(
        dataset=target,
        origin=Origin.COPY,
        source_session_id=row.source_session_id,
        source_human_message_id=row.source_human_message_id,
        source_ai_message_id=row.source_ai_message_id,
        copied_from_id=row.original_id,
        **{name: getattr(row, name) for name in ROW_CONTENT_FIELDS},
    )


def _check_copy(source: Dataset, target: Dataset, row_ids: list[int] | None) -> None:
    if target.pk == source.pk:
        raise ValidationError({"target": "Pick another dataset than the source."})
    if target.team_id != source.team_id:
        raise ValidationError({"target": "No such dataset in this team."})
    if target.mode != source.mode:
        raise ValidationError({"target": f"Rows copy only into a {source.mode}-mode dataset."})
    if row_ids is not None:
        missing = set(row_ids) - set(
            source.rows.filter(pk__in=row_ids).values_list("pk", flat=True)
        )
        if missing or not row_ids:
            listed = ", ".join(str(i) for i in sorted(missing)[:20]) or "none given"
            raise ValidationError({"row_ids": f"Not rows of this dataset: {listed}."})


def copy_rows(*, source: Dataset, target: Dataset, row_ids: list[int] | None = None) -> Tally:
    """Copy rows (all, or the given ones) into a dataset of the same mode.

    Skipped: a row the target already holds a copy of (or is the original of), and a row
    whose source (session, or message pair) the target already holds. The copies are
    written a chunk per short transaction; if a chunk fails, the copies already made are
    deleted before the error goes on.
    """
    _check_copy(source, target, row_ids)
    rows = source.rows.all() if row_ids is None else source.rows.filter(pk__in=row_ids)
    tally = Tally()
    added: list[int] = []
    try:
        for chunk in _row_chunks(rows):
            tally += busy.bulk_step(partial(_copy_chunk, chunk, target, added))
    except BaseException:
        _undo_copy(target, added)
        raise
    return tally


def _undo_copy(target: Dataset, added: list[int]) -> None:
    def delete() -> None:
        with transaction.atomic():
            for start in range(0, len(added), COPY_CHUNK):
                Row.objects.filter(pk__in=added[start : start + COPY_CHUNK]).delete()

    try:
        busy.retry_when_busy(delete)
    except Exception:
        logger.exception("Could not undo a failed copy into dataset %s.", target.pk)


def _row_chunks(rows: Any) -> Iterable[list[Row]]:
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:COPY_CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def copied_already(target: Dataset, originals: Iterable[int]) -> set[int]:
    """The originals among `originals` that `target` holds, as themselves or as a copy."""
    wanted = sorted(set(originals))
    copies = target.rows.order_by().filter(copied_from_id__in=wanted)
    held = target.rows.order_by().filter(pk__in=wanted)
    return {*copies.values_list("copied_from_id", flat=True), *held.values_list("pk", flat=True)}


def _copy_chunk(chunk: list[Row], target: Dataset, added: list[int]) -> Tally:
    with transaction.atomic():
        lock_dataset(target)
        sessions = {row.source_session_id for row in chunk if row.source_session_id}
        present = existing_sources(target, sessions)
        copied = copied_already(target, (row.original_id for row in chunk))
        copies = []
        for row in chunk:
            key = source_key(
                target.mode,
                row.source_session_id,
                row.source_human_message_id,
                row.source_ai_message_id,
            )
            if row.original_id in copied or (key is not None and key in present):
                continue
            copies.append(_copy_of(row, target))
            copied.add(row.original_id)
            if key is not None:
                present.add(key)
        insert_rows(copies)
    added += [copy.pk for copy in copies]  # committed: theirs to undo from now on
    return Tally(added=len(copies), skipped=len(chunk) - len(copies))
