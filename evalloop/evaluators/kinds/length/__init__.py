"""`length`: the text's length in characters or words, and whether it lies within bounds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from evalloop.evaluators.kinds.base import RowData
from evalloop.evaluators.kinds.deterministic import (
    Check,
    Deterministic,
    TextField,
    text_field,
    text_of,
)
from evalloop.lib.inputs import INT64_MAX, Strict


class LengthParams(Strict):
    """Measures the text; `within` is true when the length lies between min and max (inclusive)."""

    unit: Literal["chars", "words"] = Field(
        "chars", description="chars counts characters; words counts runs of non-space text."
    )
    min: int | None = Field(None, ge=0, le=INT64_MAX, description="The least length allowed.")
    max: int | None = Field(None, ge=0, le=INT64_MAX, description="The greatest length allowed.")
    field: TextField = text_field()

    @field_validator("max")
    @classmethod
    def _not_below_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min")
        if value is not None and low is not None and value < low:
            raise ValueError(f"must be at least the minimum ({low})")
        return value


class Length(Deterministic[LengthParams]):
    name = "length"
    label = "Length"
    params_model = LengthParams
    fixed_schema = {
        "fields": [
            {"name": "length", "type": "number", "min": 0},
            {"name": "within", "type": "boolean"},
        ]
    }

    def prepare(self, params: LengthParams) -> Check:
        words = params.unit == "words"
        low = 0 if params.min is None else params.min
        high = params.max
        field = params.field

        def check(row: RowData) -> dict[str, Any]:
            text = text_of(row, field)
            length = len(text.split()) if words else len(text)
            return {"length": length, "within": low <= length and (high is None or length <= high)}

        return check


KIND = Length()
