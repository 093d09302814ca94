"""Auto-population rules, their ledger of ingested sources, tick records and waiting deltas.

Direction of the links: a rule points at its dataset and chatbot; a dataset row points back
at the rule that made it (`Row.rule`, SET_NULL, declared lazily in the datasets app so that
app never imports this one); a ledger entry points at the rule (CASCADE) and at the row it
made (SET_NULL: deleting the row keeps the entry, so the source is never re-added).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count
from django.utils import timezone

from evalloop.chat.models import Chatbot
from evalloop.datasets.models import Dataset, Row
from evalloop.runs.models import Config
from evalloop.teams.models import Team

TICKS_KEPT = 100


class Completion(models.TextChoices):
    ENDED = "ended", "When the session has ended"
    IDLE = "idle", "When the session has been quiet for a while"
    IMMEDIATE = "immediate", "At once"


class Status(models.TextChoices):
    SUCCESS = "success", "Success"
    NO_OP = "no_op", "Nothing new"
    ERROR = "error", "Error"


class RuleQuerySet(models.QuerySet["Rule"]):
    def for_team(self, team: Team) -> RuleQuerySet:
        return self.filter(dataset__team=team)

    def enabled(self) -> RuleQuerySet:
        return self.filter(enabled=True)

    def with_rows_contributed(self) -> RuleQuerySet:
        """Each rule's rows still in its dataset, counted in the same query."""
        return self.annotate(rows_contributed=Count("rows"))


class Rule(models.Model):
    """Append a dataset row for every complete, matching source of one chatbot, once."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="rules")
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="rules")
    # The JSON form of a session filter (evalloop.filters), valid when saved.
    filter = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    completion = models.CharField(
        max_length=10, choices=Completion.choices, default=Completion.ENDED
    )
    idle_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    sample_rate = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    start_at = models.DateTimeField(default=timezone.now)
    # Sessions changed up to here were processed (less the safety margin on the next scan).
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # When the kicked tick of this rule is due, while one is pending (autopopulate/kicks.py).
    kick_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RuleQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"rule {self.pk} of {self.dataset_id}"

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)


class EntryQuerySet(models.QuerySet["Entry"]):
    def for_team(self, team: Team) -> EntryQuerySet:
        return self.filter(rule__dataset__team=team)


class Entry(models.Model):
    """One source a rule took: a session, or in message mode a (session, AI message) pair.

    Plain ids rather than foreign keys: the entry must outlive its traffic and its row.
    `message_key` is 0 in session mode, so the unique constraint needs no NULL handling.
    """

    # No index of its own: the unique (rule, session, message) index serves every lookup by
    # rule, and a probe of one source never falls back to reading all of a rule's entries.
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="entries", db_index=False)
    session_key = models.BigIntegerField()
    message_key = models.BigIntegerField(default=0)
    row = models.ForeignKey(
        Row, null=True, blank=True, on_delete=models.SET_NULL, related_name="ledger_entries"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = EntryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "session_key", "message_key"], name="entry_unique_source"
            )
        ]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.session_key}/{self.message_key}"


class TickQuerySet(models.QuerySet["Tick"]):
    def for_team(self, team: Team) -> TickQuerySet:
        return self.filter(rule__dataset__team=team)


class Tick(models.Model):
    """What one tick did for one rule; the last TICKS_KEPT per rule are kept."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="ticks")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices)
    scanned = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    sampled_out = models.PositiveIntegerField(default=0)
    in_ledger = models.PositiveIntegerField(default=0)
    appended = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # A sweep re-reads the window behind the watermark; a tick reads from it.
    sweep = models.BooleanField(default=False)

    objects = TickQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["rule", "-id"], name="tick_rule_recent_idx")]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"tick {self.pk} of {self.rule_id} ({self.status})"


class PendingQuerySet(models.QuerySet["PendingRow"]):
    def for_team(self, team: Team) -> PendingQuerySet:
        return self.filter(config__team=team)


class PendingRow(models.Model):
    """A row appended while its config's minimum interval ran: it joins the next delta run."""

    config = models.ForeignKey(Config, on_delete=models.CASCADE, related_name="pending_rows")
    row = models.ForeignKey(Row, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = PendingQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["config", "row"], name="pending_unique_row")]

    def __str__(self) -> str:
        return f"row {self.row_id} waits for {self.config_id}"


class CappedQuerySet(models.QuerySet["CappedDay"]):
    def for_team(self, team: Team) -> CappedQuerySet:
        return self.filter(config__team=team)


class CappedDay(models.Model):
    """Rows a config's daily cap left unevaluated on one (UTC) day, for its page."""

    config = models.ForeignKey(Config, on_delete=models.CASCADE, related_name="capped_days")
    day = models.DateField()
    rows = models.PositiveIntegerField(default=0)
    cap = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = CappedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["config", "day"], name="capped_unique_day")]
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.rows} rows over the cap of {self.config_id} on {self.day}"

    @property
    def reason(self) -> str:
        return f"the daily cap of {self.cap} evaluated rows was reached"
