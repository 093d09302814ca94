"""`contains`: whether the text holds any (or all) of a list of words or phrases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from evalloop.evaluators.kinds.base import RowData
from evalloop.evaluators.kinds.deterministic import (
    Check,
    Deterministic,
    TextField,
    boolean_schema,
    text_field,
    text_of,
)
from evalloop.lib.inputs import Strict

Word = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class ContainsParams(Strict):
    """True when the text contains any of the words (or all of them); a word may be a phrase."""

    words: list[Word] = Field(
        min_length=1, max_length=500, description="The words or phrases to look for."
    )
    mode: Literal["any", "all"] = Field(
        "any", description="any: one of the words is enough; all: every word must appear."
    )
    case_sensitive: bool = Field(False, description="Tell upper from lower case.")
    field: TextField = text_field()


class Contains(Deterministic[ContainsParams]):
    name = "contains"
    label = "Contains words"
    params_model = ContainsParams
    fixed_schema = boolean_schema("match")

    def prepare(self, params: ContainsParams) -> Check:
        fold: Callable[[str], str] = str if params.case_sensitive else str.casefold
        words = [fold(word) for word in params.words]
        test = any if params.mode == "any" else all
        field = params.field

        def check(row: RowData) -> dict[str, Any]:
            text = fold(text_of(row, field))
            return {"match": test(word in text for word in words)}

        return check


KIND = Contains()
