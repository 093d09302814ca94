from __future__ import annotations

from typing import Any

from django import forms

from evalloop.chat.models import Chatbot
from evalloop.datasets.models import ROW_CONTENT_FIELDS, Dataset, Mode, Row
from evalloop.lib.inputs import valid_id
from evalloop.lib.sampling import IMPORT_SEED
from evalloop.teams.access import team_objects
from evalloop.teams.models import Team
from evalloop.web.fields import JSONField


class IdListField(forms.Field):
    """Ids ticked in a list (`<input type=checkbox name=... value=<id>>`, many of them)."""

    widget = forms.MultipleHiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> list[int]:
        try:
            ids = sorted({int(item) for item in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError("Not a list of ids.") from None
        if not all(valid_id(item) for item in ids):
            raise forms.ValidationError("Not a list of ids.")
        return ids


class DatasetForm(forms.Form):
    name = forms.CharField(max_length=200)
    mode = forms.ChoiceField(
        choices=Mode.choices,
        help_text="Fixed at creation: a message-mode row is one AI reply with the turn it "
        "answers; a session-mode row is a whole conversation.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class DatasetEditForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


JSON_FIELDS = ("history", "context", "participant_data", "state")


class RowForm(forms.ModelForm):
    class Meta:
        model = Row
        fields = list(ROW_CONTENT_FIELDS)
        field_classes = dict.fromkeys(
            ("history", "context", "participant_data", "state"), JSONField
        )
        widgets = {
            "input": forms.Textarea(attrs={"rows": 3}),
            "output": forms.Textarea(attrs={"rows": 3}),
            "expected_output": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "history": 'A JSON list of turns: [{"role": "human", "content": "hi"}, …]',
            "context": "A JSON object.",
            "participant_data": "A JSON object.",
            "state": "A JSON object.",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in JSON_FIELDS:
            # An empty box means an empty list or object: the columns hold no NULL.
            if data.get(name) is None and name not in self.errors:
                data[name] = [] if name == "history" else {}
        return data


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        error_messages={
            "required": "Choose a CSV file to upload.",
            "empty": "The file is empty.",
            "invalid": "That is not a file: choose a CSV file to upload.",
        },
    )


class RuleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"Rule {obj.pk} on {obj.chatbot.slug} (keeps {obj.sample_rate:.0%})"


class ImportForm(forms.Form):
    """The import-by-filter form; the filter itself travels in the query string."""

    FORM_ID = "import-pick"

    chatbot = forms.ModelChoiceField(
        queryset=Chatbot.objects.none(),
        to_field_name="slug",
        error_messages={
            "required": "Pick the chatbot whose sessions to import.",
            "invalid_choice": "This team has no such chatbot.",
        },
    )
    sample_percent = forms.DecimalField(
        label="Sample (%)",
        required=False,
        min_value=0.01,
        max_value=100,
        decimal_places=2,
        help_text="Leave empty to import every match; 10 keeps a tenth of them.",
        error_messages={
            "min_value": "Give a percentage above 0, or leave it empty to import every match.",
            "max_value": "At most 100 (every match).",
            "max_decimal_places": "At most two decimals, such as 0.25.",
            "invalid": "Give a number, such as 10.",
        },
    )
    sample_as_rule = RuleChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        label="Sample as",
        empty_label="the import's own sample",
        error_messages={
            "invalid_choice": "Sample as one of this dataset's rules, or as the import's own "
            "sample: the rule chosen is not one of them (it may have been deleted).",
        },
        help_text="Pick one of this dataset's rules to keep exactly what that rule keeps at "
        "this rate.",
    )

    def __init__(self, *args: Any, team: Team, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chatbot"].queryset = team_objects(Chatbot, team)  # type: ignore[attr-defined]
        rules = dataset.rules.select_related("chatbot").order_by("pk")
        self.fields["sample_as_rule"].queryset = rules  # type: ignore[attr-defined]
        for field in self.fields.values():
            # The fields sit around the filter builder, each tied to the one form by its id.
            field.widget.attrs["form"] = self.FORM_ID

    @property
    def sample_seed(self) -> int | str:
        rule = self.cleaned_data.get("sample_as_rule")
        return rule.pk if rule is not None else IMPORT_SEED

    @property
    def sample_rate(self) -> float | None:
        percent = self.cleaned_data.get("sample_percent")
        return None if percent is None or percent >= 100 else float(percent) / 100


class CopyForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        label="Into dataset",
        error_messages={
            "required": "Pick the dataset to copy the rows into.",
            "invalid_choice": "Rows copy only into another dataset of this team and mode.",
        },
    )
    row = IdListField()
    all_rows = forms.BooleanField(required=False)

    def __init__(self, *args: Any, source: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        targets = Dataset.objects.filter(team_id=source.team_id, mode=source.mode)
        self.fields["target"].queryset = targets.exclude(pk=source.pk)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("all_rows"):
            return data
        if not data.get("row"):
            raise forms.ValidationError("Tick the rows to copy, or copy all rows.")
        held = self.source.rows.filter(pk__in=data["row"]).count()
        if held < len(data["row"]):
            raise forms.ValidationError(
                "Some ticked rows were deleted meanwhile: reload the page and tick again."
            )
        return data


class AddSessionsForm(forms.Form):
    """The sessions list's "Add to dataset": picked sessions, or every session a filter matches."""

    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        error_messages={
            "required": "Pick the dataset to add the sessions to.",
            "invalid_choice": "This team has no such dataset.",
        },
    )
    chatbot = forms.ModelChoiceField(
        queryset=Chatbot.objects.none(),
        to_field_name="slug",
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "This team has no such chatbot."},
    )
    filter = forms.CharField(required=False, widget=forms.HiddenInput)
    session = IdListField()
    all_matching = forms.BooleanField(required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        datasets = Dataset.objects.for_team(team)
        self.fields["dataset"].queryset = datasets  # type: ignore[attr-defined]
        self.fields["chatbot"].queryset = team_objects(Chatbot, team)  # type: ignore[attr-defined]
        if not self.is_bound and len(choices := list(datasets[:2])) == 1:
            self.initial["dataset"] = choices[0].pk  # the only dataset needs no picking

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("all_matching") and not data.get("session") and not self.errors:
            raise forms.ValidationError("Tick the sessions to add, or add all matching.")
        return data
