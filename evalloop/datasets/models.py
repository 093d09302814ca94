"""Evaluation datasets: rows to evaluate, each remembering where it came from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from evalloop.chat.models import Message, Session
from evalloop.lib.inputs import validate_storable
from evalloop.teams.models import Team, User

HISTORY_ROLES = ("human", "ai", "system")


class Mode(models.TextChoices):
    MESSAGE = "message", "Message (one row per AI reply)"
    SESSION = "session", "Session (one row per conversation)"


class Origin(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    CSV = "csv", "CSV upload"
    IMPORT = "import", "Imported from traffic"
    RULE = "rule", "Auto-population rule"
    COPY = "copy", "Copied from a dataset"


def validate_mapping(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")
    validate_storable(value)


def validate_history(value: Any) -> None:
    """A history is a list of turns `{"role", "content", "created_at"?}`."""
    if not isinstance(value, list):
        raise ValidationError("Must be a JSON list of turns.")
    validate_storable(value)
    for index, turn in enumerate(value):
        problem = _turn_problem(turn)
        if problem:
            raise ValidationError(f"Turn {index + 1}: {problem}.")


def _turn_problem(turn: Any) -> str | None:
    if not isinstance(turn, dict):
        return "must be an object with role and content"
    if turn.get("role") not in HISTORY_ROLES:
        return f"role must be one of {', '.join(HISTORY_ROLES)}"
    if not isinstance(turn.get("content"), str):
        return "content must be a string"
    if not isinstance(turn.get("created_at", ""), str | type(None)):
        return "created_at must be an ISO 8601 string"
    return None


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def for_team(self, team: Team) -> DatasetQuerySet:
        return self.filter(team=team)

    def with_row_count(self) -> DatasetQuerySet:
        # Counted in the same query (one GROUP BY over the row index), so lists stay one query.
        return self.annotate(row_count=Count("rows"))


class Dataset(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="dataset_unique_team_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def count_rows(self) -> int:
        """The annotated count when the queryset asked for it, otherwise one COUNT query."""
        annotated = self.__dict__.get("row_count")
        return annotated if annotated is not None else self.rows.count()

    def row_positions(self, row_ids: Iterable[int]) -> dict[int, int]:
        """Each row's place in the dataset, 1 for the row added first: what users see as its number.

        One query: a single pass over the dataset's (dataset, id) index up to the newest of
        the rows, counting for each row the rows at or before it.
        """
        wanted = sorted(set(row_ids))
        if not wanted:
            return {}
        counts = {f"at_{pk}": Count("id", filter=Q(id__lte=pk)) for pk in wanted}
        found = self.rows.order_by().filter(id__lte=wanted[-1]).aggregate(**counts)
        return {pk: found[f"at_{pk}"] for pk in wanted}


# What a row says, as opposed to where it came from.
ROW_CONTENT_FIELDS = (
    "input",
    "output",
    "expected_output",
    "history",
    "context",
    "participant_data",
    "state",
)


class RowQuerySet(models.QuerySet["Row"]):
    def for_team(self, team: Team) -> RowQuerySet:
        return self.filter(dataset__team=team)

    def search(self, text: str) -> RowQuerySet:
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(input__icontains=text)
            | Q(output__icontains=text)
            | Q(expected_output__icontains=text)
            | Q(history__icontains=text)
        )


class Row(models.Model):
    """One thing to evaluate: a turn (message mode) or a whole conversation (session mode).

    `rule` is the auto-population rule that made it (lazily named, so this app never
    imports `evalloop.autopopulate`); deleting the rule keeps the row.
    """

    # No index of its own: (dataset, id) below serves every lookup by dataset, and a
    # dataset-only index would tempt the planner into scanning a growing dataset's rows.
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    input = models.TextField(blank=True, validators=[validate_storable])
    output = models.TextField(blank=True, validators=[validate_storable])
    history = models.JSONField(default=list, blank=True, validators=[validate_history])
    context = models.JSONField(default=dict, blank=True, validators=[validate_mapping])
    participant_data = models.JSONField(default=dict, blank=True, validators=[validate_mapping])
    state = models.JSONField(default=dict, blank=True, validators=[validate_mapping])
    expected_output = models.TextField(blank=True, validators=[validate_storable])
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    # Provenance outlives its source: deleting traffic keeps the row, without the link.
    source_session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="dataset_rows"
    )
    source_human_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_ai_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        "autopopulate.Rule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rows",
        db_index=False,
    )
    # A copy's original: the row it was copied from, or that row's own original, so a copy of
    # a copy names the first row and copying again skips what the target already holds.
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    objects = RowQuerySet.as_manager()

    class Meta:
        indexes = [
            # the rows list and the API's cursor pages: a dataset's rows by id
            models.Index(fields=["dataset", "id"], name="row_dataset_idx"),
            # "already in this dataset?" by source session (and message pair within it)
            models.Index(fields=["dataset", "source_session"], name="row_dataset_source_idx"),
            # a rule's rows (its count, and unlinking them when it goes); most rows have none
            models.Index(fields=["rule"], condition=Q(rule__isnull=False), name="row_rule_idx"),
            # copies of a row (copying skips them; deleting the row unlinks them); most have none
            models.Index(
                fields=["copied_from"],
                condition=Q(copied_from__isnull=False),
                name="row_copied_from_idx",
            ),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"row {self.pk} of {self.dataset_id}"

    @property
    def edited(self) -> bool:
        return self.edited_at is not None

    def has_content(self) -> bool:
        """Whether any field says something: a row with nothing in it has nothing to evaluate."""
        texts = (self.input, self.output, self.expected_output)
        mappings = (self.history, self.context, self.participant_data, self.state)
        return any(text.strip() for text in texts) or any(mappings)

    @cached_property
    def position(self) -> int:
        """The row's place in its dataset (see `Dataset.row_positions`); one query."""
        return self.dataset.row_positions([self.pk])[self.pk]

    @property
    def original_id(self) -> int:
        """The row a copy of this row names as its original."""
        return self.copied_from_id or self.pk

    @property
    def source_pair(self) -> tuple[int | None, int | None]:
        return (self.source_human_message_id, self.source_ai_message_id)


class JobStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_JOB_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


class ImportJobQuerySet(models.QuerySet["ImportJob"]):
    def for_team(self, team: Team) -> ImportJobQuerySet:
        return self.filter(dataset__team=team)

    def active(self) -> ImportJobQuerySet:
        return self.filter(status__in=ACTIVE_JOB_STATUSES)

    def recent(self, *, hours: int = 1) -> ImportJobQuerySet:
        """Jobs still running, and those that ended lately (so a failure stays visible)."""
        ended_lately = Q(finished_at__gte=timezone.now() - timedelta(hours=hours))
        return self.filter(Q(status__in=ACTIVE_JOB_STATUSES) | ended_lately)


class ImportJob(models.Model):
    """A large import running in the background, chunk by chunk, with its progress."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="import_jobs")
    # What to import: {"session_ids": [...]} or {"chatbot_id", "filter", "sample_rate"}.
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    rows_added = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    sampled_out = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    # A heartbeat: a job still "running" long after its last update lost its worker.
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["dataset", "status"], name="importjob_dataset_status_idx")]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.dataset_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if not self.is_active else 0
        return min(100, round(100 * self.processed / self.total))
