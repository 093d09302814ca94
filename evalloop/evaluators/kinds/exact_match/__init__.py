"""`exact_match`: whether the output is the expected output."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from evalloop.evaluators.kinds.base import RowData
from evalloop.evaluators.kinds.deterministic import Check, Deterministic, boolean_schema, text_of
from evalloop.lib.inputs import Strict


def normalized(text: str) -> str:
    """The text stripped, case-folded, with every run of whitespace made one space."""
    return " ".join(text.casefold().split())


class ExactMatchParams(Strict):
    """True when the output equals the row's expected output."""

    normalize: bool = Field(
        True,
        description="Ignore case, leading and trailing spaces, and how much whitespace "
        "separates words.",
    )


class ExactMatch(Deterministic[ExactMatchParams]):
    name = "exact_match"
    label = "Exact match with the expected output"
    params_model = ExactMatchParams
    fixed_schema = boolean_schema("match")

    def prepare(self, params: ExactMatchParams) -> Check:
        if params.normalize:

            def check(row: RowData) -> dict[str, Any]:
                expected = normalized(text_of(row, "expected_output"))
                return {"match": normalized(text_of(row, "output")) == expected}

            return check
        return lambda row: {"match": text_of(row, "output") == text_of(row, "expected_output")}


KIND = ExactMatch()
