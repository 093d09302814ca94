"""The rule form. Its filter comes from the filter builder (the URL's clauses), not a field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone

from evalloop.autopopulate.models import Completion, Rule
from evalloop.chat.models import Chatbot
from evalloop.teams.access import team_objects
from evalloop.teams.models import Team

FIELDS = ("chatbot", "completion", "idle_minutes", "sample_rate", "start_at", "enabled")
START_HELP = (
    "Sessions created before it are never taken. Leave empty to start from now; "
    "a time in the past backfills, and you are asked to confirm first."
)


class RuleForm(forms.Form):
    chatbot = forms.ModelChoiceField(
        label="Source chatbot", queryset=Chatbot.objects.none(), empty_label=None
    )
    completion = forms.ChoiceField(
        label="Take a session", choices=Completion.choices, initial=Completion.ENDED
    )
    idle_minutes = forms.IntegerField(
        label="Quiet for (minutes)",
        min_value=1,
        max_value=10080,
        initial=30,
        help_text="For “when quiet”: no change for this long.",
    )
    # Its range is the service's (more than 0, at most 1), checked there for every path.
    sample_rate = forms.FloatField(
        label="Sample rate",
        initial=1,
        help_text="More than 0, at most 1: 0.1 takes about one source in ten, always the same "
        "ones.",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    start_at = forms.DateTimeField(
        label="Start at",
        required=False,
        help_text=START_HELP,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    # What the user confirmed, when the rule would backfill (see views.form.fingerprint).
    confirm = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, team: Team, rule: Rule | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule = rule
        chatbots = team_objects(Chatbot, team).order_by("name")
        self.fields["chatbot"].queryset = chatbots  # type: ignore[attr-defined]
        if "chatbot" not in self.initial and not self.is_bound:
            self.initial["chatbot"] = chatbots.values_list("pk", flat=True).first()

    @staticmethod
    def initial_for(rule: Rule) -> dict[str, Any]:
        values = {name: getattr(rule, name) for name in FIELDS}
        return values | {"start_at": timezone.localtime(rule.start_at)}

    def clean_start_at(self) -> datetime | None:
        """The rule's own start when it comes back as the form showed it (to the minute)."""
        value: datetime | None = self.cleaned_data["start_at"]
        if value is not None and self.rule is not None:
            shown = timezone.localtime(self.rule.start_at).replace(second=0, microsecond=0)
            if value == shown:
                return self.rule.start_at
        return value

    def rule_fields(self, filter: list[dict[str, Any]]) -> dict[str, Any]:
        """The fields for the rules service (`enabled` aside): a blank start is now."""
        data = self.cleaned_data
        fields = {name: data[name] for name in FIELDS if name not in ("enabled", "start_at")}
        fields["start_at"] = data["start_at"] or self._default_start()
        return fields | {"filter": filter}

    def _default_start(self) -> datetime:
        return self.rule.start_at if self.rule is not None else timezone.now()
