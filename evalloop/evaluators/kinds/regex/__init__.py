"""`regex`: whether a regular expression matches somewhere in the text, in linear time."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from evalloop.evaluators.kinds.base import RowData
from evalloop.evaluators.kinds.deterministic import (
    Check,
    Deterministic,
    TextField,
    boolean_schema,
    text_field,
    text_of,
)
from evalloop.lib import regex
from evalloop.lib.inputs import Strict


class RegexParams(Strict):
    """True when the pattern matches somewhere in the text (start it with (?i) to ignore case)."""

    pattern: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="A regular expression (RE2: no backreferences or lookaround), "
        "e.g. ^Order #[0-9]+ or (?i)refund."
    )
    field: TextField = text_field()

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return regex.check(pattern)  # RegexError is a ValueError: pydantic names the field


class Regex(Deterministic[RegexParams]):
    name = "regex"
    label = "Regular expression"
    params_model = RegexParams
    fixed_schema = boolean_schema("match")

    def prepare(self, params: RegexParams) -> Check:
        search = regex.compile(params.pattern).search
        field = params.field

        def check(row: RowData) -> dict[str, Any]:
            return {"match": search(text_of(row, field)) is not None}

        return check


KIND = Regex()
