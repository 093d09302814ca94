"""Evaluators, their immutable versions, and the LLM providers that judges call."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from evalloop.teams.models import Team


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible"
    ANTHROPIC = "anthropic", "Anthropic"


class ProviderQuerySet(models.QuerySet["Provider"]):
    def for_team(self, team: Team) -> ProviderQuerySet:
        return self.filter(team=team)


class Provider(models.Model):
    """An LLM endpoint of a team; its key is stored encrypted and shown only as a hint."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="providers")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ProviderKind.choices)
    base_url = models.URLField(max_length=500, blank=True)
    # Fernet token of the key (see lib/crypto.py); never rendered or returned.
    encrypted_key = models.TextField()
    key_hint = models.CharField(max_length=40)
    # {model: {"input": price, "output": price}} in currency units per million tokens.
    prices = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="provider_unique_team_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EvaluatorQuerySet(models.QuerySet["Evaluator"]):
    def for_team(self, team: Team) -> EvaluatorQuerySet:
        return self.filter(team=team)


class Evaluator(models.Model):
    """A way to score a row: a kind, its params and an output schema; edits make new versions."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="evaluators")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20)
    params = models.JSONField(default=dict)
    # {"fields": [{"name", "type", "min"?, "max"?, "choices"?}]}; the kind's own for fixed kinds.
    output_schema = models.JSONField(default=dict)
    # The version that the current kind, params and schema make; set on every save.
    version = models.ForeignKey(
        "EvaluatorVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EvaluatorQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="evaluator_unique_team_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EvaluatorVersionQuerySet(models.QuerySet["EvaluatorVersion"]):
    def for_team(self, team: Team) -> EvaluatorVersionQuerySet:
        return self.filter(team=team)


class EvaluatorVersion(models.Model):
    """One immutable definition of an evaluator; results point here, so scores stay explained.

    Versions outlive their evaluator (the link is cleared), so finished runs and trends keep
    their meaning after an evaluator is deleted.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    evaluator = models.ForeignKey(
        Evaluator, null=True, blank=True, on_delete=models.SET_NULL, related_name="versions"
    )
    # The evaluator's name when this version was made, for results of a deleted evaluator.
    name = models.CharField(max_length=200)
    # A short hash of kind, params and output schema.
    digest = models.CharField(max_length=16)
    kind = models.CharField(max_length=20)
    params = models.JSONField(default=dict)
    output_schema = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    objects = EvaluatorVersionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "digest"], name="evaluatorversion_unique_digest"
            )
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} @{self.digest}"

    @property
    def definition(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params, "output_schema": self.output_schema}
