"""Keyset pagination by id for API lists: `?limit=` and an opaque `?cursor=`.

Lists answer `{"items": [...], "next_cursor": "..." | null}`; a cursor the list never gave out
is a 422 at `["query", "cursor"]`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import ValidationError
from ninja.pagination import PaginationBase

from evalloop.api.errors import problem
from evalloop.lib import keyset

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def page(
    queryset: QuerySet[Any],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = True,
    at: tuple[str, ...] = ("query", "cursor"),
) -> tuple[list[Any], str | None]:
    """One page of `queryset` by id; a cursor it never gave out is a 422 at `at`."""
    try:
        return keyset.page(
            queryset, order=("-id",) if newest_first else ("id",), limit=limit, cursor=cursor
        )
    except keyset.BadCursor:
        raise ValidationError(
            [problem("Not a cursor this list gave out.", *at, type="cursor")]
        ) from None


class CursorPagination(PaginationBase):
    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
        cursor: str | None = None

    class Output(Schema):
        items: list[Any]
        next_cursor: str | None

    items_attribute = "items"

    def __init__(self, *, newest_first: bool = True, **kwargs: Any) -> None:
        self.newest_first = newest_first
        super().__init__(**kwargs)

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        items, next_cursor = page(
            queryset,
            limit=pagination.limit,
            cursor=pagination.cursor,
            newest_first=self.newest_first,
        )
        return {"items": items, "next_cursor": next_cursor}
