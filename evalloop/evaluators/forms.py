"""The evaluator form, whose kind-specific fields come from each kind's params model."""

from __future__ import annotations

from typing import Any

from django import forms

from evalloop.datasets.models import Row
from evalloop.evaluators.engine import row_data
from evalloop.evaluators.kinds import REGISTRY, get_kind
from evalloop.evaluators.kinds.base import Kind, RowData
from evalloop.evaluators.models import Provider
from evalloop.evaluators.services import MAX_DESCRIPTION, MAX_NAME
from evalloop.lib.errors import Conflict, Invalid, add_conflict, describe
from evalloop.lib.inputs import MAX_ID
from evalloop.teams.access import team_objects
from evalloop.teams.models import Team
from evalloop.web.fields import JSONField

PREFIX = "param_"
SCHEMA_EXAMPLE = """{"fields": [
  {"name": "score", "type": "number", "min": 1, "max": 5},
  {"name": "on_topic", "type": "boolean"},
  {"name": "tone", "type": "category", "choices": ["friendly", "neutral", "rude"]},
  {"name": "reason", "type": "text"}
]}"""


def kind_choices() -> list[tuple[str, str]]:
    return [(name, get_kind(name).label) for name in REGISTRY]


def kind_help(kind: Kind) -> str:
    """What a kind does, in words: its params model's docstring."""
    return str(kind.params_model.model_json_schema().get("description", ""))


def schema_problem(loc: tuple[str | int, ...], message: str) -> str:
    """A problem of the output schema box, placed in words: `Field 2, name: missing`."""
    if loc[:1] != ("fields",):
        return describe(loc, message)
    if len(loc) == 1:
        return f"Fields: {message}"
    place = f"Field {loc[1] + 1}" if isinstance(loc[1], int) else str(loc[1])
    rest = ", ".join(str(part) for part in loc[2:])
    return f"{place}{', ' + rest if rest else ''}: {message}"


class LinesField(forms.CharField):
    """A list of texts, one per line of a textarea; blank lines are left out."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line for line in text.splitlines() if line.strip()]


def _spec(prop: dict[str, Any]) -> dict[str, Any]:
    """The property's own schema, with an optional value's `null` alternative taken away."""
    choices = [each for each in prop.get("anyOf", []) if each.get("type") != "null"]
    return {**prop, **choices[0]} if len(choices) == 1 else prop


def _provider_field(team: Team, options: dict[str, Any]) -> forms.Field:
    providers = [(p.pk, p.name) for p in team_objects(Provider, team)]
    return forms.TypedChoiceField(coerce=int, choices=[("", "---------"), *providers], **options)


def _typed_field(spec: dict[str, Any], options: dict[str, Any]) -> forms.Field:
    kind, widget = spec.get("type"), spec.get("widget")
    bounds: dict[str, Any] = {"min_value": spec.get("minimum"), "max_value": spec.get("maximum")}
    if kind == "boolean":
        return forms.BooleanField(**{**options, "required": False})
    if kind == "integer":
        return forms.IntegerField(**bounds, **options)
    if kind == "number":
        return forms.FloatField(**bounds, **options)
    if kind == "string":
        attrs = {"rows": 8, "class": "code"} if widget == "code" else {"rows": 4}
        area = forms.Textarea(attrs=attrs) if widget in ("textarea", "code") else None
        # Not stripped: spaces can matter (a pattern, a prompt).
        return forms.CharField(
            widget=area, max_length=spec.get("maxLength"), strip=False, **options
        )
    if kind == "array" and spec.get("items", {}).get("type") == "string":
        help_text = f"{options['help_text']} One per line."
        return LinesField(**{**options, "help_text": help_text.strip()}, strip=False)
    return JSONField(widget=forms.Textarea(attrs={"rows": 6, "class": "code"}), **options)


def _label(name: str, prop: dict[str, Any]) -> str:
    """The field's title when the model gives one, else its name in words ("Case sensitive")."""
    words = name.replace("_", " ")
    title = str(prop.get("title") or "")
    return title if title and title != words.title() else words.capitalize()


def param_field(name: str, prop: dict[str, Any], *, required: bool, team: Team) -> forms.Field:
    """The form field of one params-model property, from its JSON schema."""
    spec = _spec(prop)
    options = {
        "label": _label(name, prop),
        "help_text": prop.get("description", ""),
        "required": required,
    }
    if spec.get("widget") == "provider":
        return _provider_field(team, options)
    if "enum" in spec:
        blank = [] if required or "default" in prop else [("", "---------")]
        choices = blank + [(value, value) for value in spec["enum"]]
        return forms.ChoiceField(choices=choices, **options)
    return _typed_field(spec, options)


class EvaluatorForm(forms.Form):
    """Name, kind, the kind's own params, and an output schema for kinds without a fixed one."""

    name = forms.CharField(max_length=MAX_NAME)
    kind = forms.ChoiceField(choices=kind_choices)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=MAX_DESCRIPTION
    )
    output_schema = JSONField(
        widget=forms.Textarea(
            # With JavaScript, a table of fields edits this box (static/js/evalloop.js).
            attrs={
                "rows": 8,
                "class": "code",
                "placeholder": SCHEMA_EXAMPLE,
                "data-schema-editor": "",
            }
        ),
        help_text="The fields this evaluator answers. Each has a name and a type: "
        "number (with an optional min and max), boolean, category (with its choices) or text.",
    )

    def __init__(self, *args: Any, team: Team, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chosen = get_kind(kind)
        schema = self.chosen.params_model.model_json_schema()
        required = set(schema.get("required", []))
        self.param_names = list(schema.get("properties", {}))
        for name, prop in schema.get("properties", {}).items():
            field = param_field(name, prop, required=name in required, team=team)
            self.fields[PREFIX + name] = field
            if "default" in prop and prop["default"] is not None:
                self.fields[PREFIX + name].initial = prop["default"]
        if self.chosen.fixed_schema is not None:
            del self.fields["output_schema"]

    @property
    def param_fields(self) -> list[forms.BoundField]:
        return [self[PREFIX + name] for name in self.param_names]

    @property
    def kind_help(self) -> str:
        return kind_help(self.chosen)

    def values(self) -> dict[str, Any]:
        """What the services take: name, kind, description, params and output schema."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": data["kind"],
            "description": data["description"],
            "params": self.params(),
            "output_schema": data.get("output_schema"),
        }

    def params(self) -> dict[str, Any]:
        """The params given; an empty optional box is left out, so the default applies."""
        params = {}
        for name in self.param_names:
            value = self.cleaned_data.get(PREFIX + name)
            if value not in (None, "", []) or self.fields[PREFIX + name].required:
                params[name] = value
            elif isinstance(self.fields[PREFIX + name], forms.BooleanField):
                params[name] = False
        return params

    def add_problems(self, exc: Invalid | Conflict) -> None:
        """Put each problem a service found beside the field it names."""
        if isinstance(exc, Conflict):
            add_conflict(self, exc)
            return
        for loc, message in exc.problems:
            field, rest = self._field_of(loc)
            if field == "output_schema":
                self.add_error(field, schema_problem(rest, message))
            else:
                self.add_error(field, describe(rest, message) if rest else message)

    def _field_of(self, loc: tuple[str | int, ...]) -> tuple[str | None, tuple[str | int, ...]]:
        if loc[:1] == ("params",) and len(loc) > 1 and f"{PREFIX}{loc[1]}" in self.fields:
            return f"{PREFIX}{loc[1]}", loc[2:]
        if loc and loc[0] in self.fields:
            return str(loc[0]), loc[1:]
        return None, loc


class TryRowForm(forms.Form):
    """A row to try an evaluator on: a dataset row of the team by its id, or pasted text."""

    row = forms.IntegerField(
        label="Dataset row id",
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The # of a row in one of your datasets; or leave it empty and paste below.",
    )
    input = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    output = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    expected_output = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.found: Row | None = None

    def clean_row(self) -> int | None:
        row_id = self.cleaned_data.get("row")
        if row_id is not None:
            self.found = team_objects(Row, self.team).filter(pk=row_id).first()
            if self.found is None:
                raise forms.ValidationError("No row of your team's datasets has this id.")
        return row_id

    def row_data(self) -> RowData:
        if self.found is not None:
            return row_data(self.found)
        return {key: self.cleaned_data[key] for key in ("input", "output", "expected_output")}
