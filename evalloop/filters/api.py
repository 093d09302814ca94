from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from evalloop.api.auth import api_team
from evalloop.filters.language import FIELDS, FilterError, Target, parse_filter
from evalloop.filters.schemas import FieldOut, FieldsOut, InvalidOut, ValidateIn, ValidOut

router = Router(tags=["filters"])


@router.get("/filters/fields", response=FieldsOut, summary="Fields and operators of filters")
def list_fields(request: HttpRequest, target: Target = Target.SESSION) -> FieldsOut:
    """Every field a filter over `target` may use, its operators and their value types."""
    api_team(request)
    fields = [FieldOut.of(field) for field in FIELDS[target].values()]
    return FieldsOut(target=target, fields=fields)


@router.post(
    "/filters/validate", response={200: ValidOut, 422: InvalidOut}, summary="Check a filter"
)
def validate_filter(request: HttpRequest, payload: ValidateIn) -> Status[Any]:
    """Answer whether the filter reads, with an English phrase per clause, or what is wrong."""
    api_team(request)
    try:
        flt = parse_filter(payload.filter, target=payload.target)
    except FilterError as exc:
        return Status(422, InvalidOut(detail=exc.detail()))
    return Status(200, ValidOut(valid=True, description=flt.describe()))
