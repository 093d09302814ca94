from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from evalloop.api.auth import api_team
from evalloop.filters.language import FIELDS, Target, parse_filter
from evalloop.filters.schemas import FieldOut, FieldsOut, ValidateIn, ValidOut

router = Router(tags=["filters"])


@router.get("/filters/fields", response=FieldsOut, summary="Fields and operators of filters")
def list_fields(request: HttpRequest, target: Target = Target.SESSION) -> FieldsOut:
    """Every field a filter over `target` may use, its operators and their value types."""
    api_team(request)
    fields = [FieldOut.of(field) for field in FIELDS[target].values()]
    return FieldsOut(target=target, fields=fields)


@router.post("/filters/validate", response=ValidOut, summary="Check a filter")
def validate_filter(request: HttpRequest, payload: ValidateIn) -> ValidOut:
    """Answer whether the filter reads, with an English phrase per clause, or what is wrong."""
    api_team(request)
    flt = parse_filter(payload.filter, target=payload.target)
    return ValidOut(valid=True, description=flt.describe())
