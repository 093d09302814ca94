"""Evaluation configs, runs with their frozen plans, results and aggregates."""

from __future__ import annotations

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from evalloop.datasets.models import Dataset, Row
from evalloop.evaluators.models import Evaluator, EvaluatorVersion
from evalloop.teams.models import Team, User


class RunType(models.TextChoices):
    FULL = "full", "Full"
    PREVIEW = "preview", "Preview"
    DELTA = "delta", "Delta"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


UNFINISHED = (RunStatus.PENDING, RunStatus.RUNNING)


class Trigger(models.TextChoices):
    USER = "user", "A user"
    API = "api", "The API"
    RULE = "rule", "An auto-population rule"


class ConfigQuerySet(models.QuerySet["Config"]):
    def for_team(self, team: Team) -> ConfigQuerySet:
        return self.filter(team=team)


class Config(models.Model):
    """A dataset bound to evaluators; it runs on demand, and on every append when opted in."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="configs")
    name = models.CharField(max_length=200)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="configs")
    evaluators = models.ManyToManyField(Evaluator, related_name="configs")
    auto_run_on_append = models.BooleanField(default=False)
    # Limits on delta runs: at most this many evaluated rows per day (UTC) ...
    daily_row_cap = models.PositiveIntegerField(null=True, blank=True)
    # ... and at least this many minutes between two auto runs (appends meanwhile wait).
    min_minutes_between_runs = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ConfigQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="config_unique_team_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RunQuerySet(models.QuerySet["Run"]):
    def for_team(self, team: Team) -> RunQuerySet:
        return self.filter(team=team)

    def unfinished(self) -> RunQuerySet:
        return self.filter(status__in=UNFINISHED)

    # What deleting a dataset, row, evaluator or config must wait for (a 409 meanwhile).
    def using_dataset(self, dataset: Dataset) -> RunQuerySet:
        # A plan's rows all come from one dataset: the config's when the run was created,
        # which a config moved to another dataset meanwhile no longer names.
        first_row = RunRow.objects.filter(run=OuterRef("pk"), position=0, row__dataset=dataset)
        return self.unfinished().filter(Q(config__dataset=dataset) | Exists(first_row))

    def using_rows(self, row_ids: list[int]) -> RunQuerySet:
        return self.unfinished().filter(plan_rows__row_id__in=row_ids).distinct()

    def using_evaluator(self, evaluator: Evaluator) -> RunQuerySet:
        return self.unfinished().filter(plan_evaluators__evaluator=evaluator).distinct()


class Run(models.Model):
    """One evaluation of a frozen plan: the plan's rows times its evaluator versions."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs")
    config = models.ForeignKey(Config, on_delete=models.CASCADE, related_name="runs")
    type = models.CharField(max_length=10, choices=RunType.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.USER)
    triggered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who or what, in words: a user's e-mail, an API key's name, a rule's description.
    trigger_label = models.CharField(max_length=300, blank=True)
    scope_size = models.PositiveIntegerField(default=0)  # rows in the plan
    total = models.PositiveIntegerField(default=0)  # pairs: rows x evaluator versions
    done = models.PositiveIntegerField(default=0)  # pairs with a result
    errors = models.PositiveIntegerField(default=0)  # of which errors
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    stalls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why a run failed
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the aggregates were computed; a sweep recomputes finished runs without it.
    finalized_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["config", "-id"], name="run_config_idx"),
            # the coordinator's scan: only unfinished runs, however many finished ones exist
            models.Index(
                fields=["status"],
                name="run_unfinished_idx",
                condition=Q(status__in=["pending", "running"]),
            ),
            # the sweep's scan: finished runs whose aggregates are still to compute
            models.Index(
                fields=["finished_at"],
                name="run_unfinalized_idx",
                condition=Q(
                    status__in=["completed", "failed", "cancelled"], finalized_at__isnull=True
                ),
            ),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.type} run {self.pk} of {self.config_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.done / self.total))


class RunRow(models.Model):
    """A row of a run's frozen plan, numbered so batches are ranges of positions."""

    # No index of its own: the unique (run, position) index serves every lookup by run.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="plan_rows", db_index=False)
    row = models.ForeignKey(Row, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="runrow_unique_position"),
            models.UniqueConstraint(fields=["run", "row"], name="runrow_unique_row"),
        ]
        ordering = ["position"]

    def __str__(self) -> str:
        return f"row {self.row_id} at {self.position} of run {self.run_id}"


class RunEvaluator(models.Model):
    """An evaluator version of a run's frozen plan."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="plan_evaluators")
    version = models.ForeignKey(EvaluatorVersion, on_delete=models.CASCADE, related_name="+")
    # The evaluator as it is now; cleared when it is deleted (the version stays).
    evaluator = models.ForeignKey(
        Evaluator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "version"], name="runevaluator_unique_version")
        ]
        ordering = ["position"]

    def __str__(self) -> str:
        return f"version {self.version_id} of run {self.run_id}"


class ResultQuerySet(models.QuerySet["Result"]):
    def for_team(self, team: Team) -> ResultQuerySet:
        return self.filter(run__team=team)


class Result(models.Model):
    """The score of one row by one evaluator version in one run, or the error it met."""

    # No index of its own: the unique (run, row, version) index serves every lookup by run,
    # and one index less is cheaper on every insert of a large run.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results", db_index=False)
    row = models.ForeignKey(Row, on_delete=models.CASCADE, related_name="results")
    version = models.ForeignKey(EvaluatorVersion, on_delete=models.CASCADE, related_name="results")
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ResultQuerySet.as_manager()

    class Meta:
        constraints = [
            # A redelivered batch skips pairs that have a result; this absorbs the races.
            models.UniqueConstraint(fields=["run", "row", "version"], name="result_unique_pair")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"result {self.pk} of run {self.run_id}"


class FieldType(models.TextChoices):
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    CATEGORY = "category", "Category"
    TEXT = "text", "Text"


class Aggregate(models.Model):
    """A finished run's summary of one output field of one evaluator version."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="aggregates")
    version = models.ForeignKey(EvaluatorVersion, on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=FieldType.choices)
    count = models.PositiveIntegerField(default=0)  # results with a value for the field
    errors = models.PositiveIntegerField(default=0)  # error results, counted apart
    mean = models.FloatField(null=True, blank=True)
    median = models.FloatField(null=True, blank=True)
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    stddev = models.FloatField(null=True, blank=True)
    true_count = models.PositiveIntegerField(null=True, blank=True)
    # {choice: count} for categories
    distribution = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "version", "field"], name="aggregate_unique_field"
            )
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.field} of version {self.version_id} in run {self.run_id}"

    @property
    def true_rate(self) -> float | None:
        if self.true_count is None or not self.count:
            return None
        return self.true_count / self.count


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Dispatched"
    DONE = "done", "Done"


class Batch(models.Model):
    """A range of plan positions evaluated by one task; its lease says when to re-dispatch."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="batches")
    first_position = models.PositiveIntegerField()
    last_position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    # Set by the first write of the batch's results: until then no pair of it has a result,
    # so its work need not look for them (a lookup that grows with the run).
    has_results = models.BooleanField(default=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["run", "status"], name="batch_run_status_idx")]
        ordering = ["first_position"]

    def __str__(self) -> str:
        return f"batch {self.first_position}-{self.last_position} of run {self.run_id}"
