from __future__ import annotations

from typing import Any

from django import forms

from evalloop.datasets.models import Dataset
from evalloop.evaluators.models import Evaluator
from evalloop.runs.models import Config
from evalloop.runs.services import MAX_DAILY_ROW_CAP, MAX_MINUTES_BETWEEN_RUNS, MAX_SAMPLE_SIZE
from evalloop.teams.access import team_objects
from evalloop.teams.models import Team

AUTO_RUN_HELP = (
    "Every append to the dataset (by an auto-population rule) then starts a run over the new "
    "rows: each append costs one evaluation per row and per evaluator, LLM judges included, "
    "and LLM judges are billed by their provider."
)
SAMPLE_SIZE_ERROR = f"A preview takes from 1 to {MAX_SAMPLE_SIZE} rows."
FIELDS = (
    "name",
    "dataset",
    "evaluators",
    "auto_run_on_append",
    "daily_row_cap",
    "min_minutes_between_runs",
)


class ConfigForm(forms.Form):
    name = forms.CharField(max_length=200)
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none())
    evaluators = forms.ModelMultipleChoiceField(
        queryset=Evaluator.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each evaluator scores every row of a run.",
    )
    auto_run_on_append = forms.BooleanField(
        label="Run automatically on every append", required=False, help_text=AUTO_RUN_HELP
    )
    daily_row_cap = forms.IntegerField(
        label="Daily row cap",
        required=False,
        min_value=1,
        max_value=MAX_DAILY_ROW_CAP,
        help_text="At most this many rows evaluated by automatic runs per day (UTC). "
        "Leave empty for no cap.",
    )
    min_minutes_between_runs = forms.IntegerField(
        label="Minimum minutes between automatic runs",
        required=False,
        min_value=1,
        max_value=MAX_MINUTES_BETWEEN_RUNS,
        help_text="Rows appended meanwhile join the next run. Leave empty to run on every append.",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        datasets = team_objects(Dataset, team).order_by("name")
        self.fields["dataset"].queryset = datasets  # type: ignore[attr-defined]
        evaluators = team_objects(Evaluator, team).order_by("name")
        self.fields["evaluators"].queryset = evaluators  # type: ignore[attr-defined]

    @classmethod
    def initial_for(cls, config: Config) -> dict[str, Any]:
        initial = {name: getattr(config, name) for name in FIELDS if name != "evaluators"}
        initial["evaluators"] = [evaluator.pk for evaluator in config.evaluators.all()]
        return initial


class StartRunForm(forms.Form):
    type = forms.ChoiceField(choices=[("full", "Full"), ("preview", "Preview")])
    sample_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SAMPLE_SIZE,
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), SAMPLE_SIZE_ERROR),
    )
