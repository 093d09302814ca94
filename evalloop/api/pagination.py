"""Keyset pagination by id: `?limit=` and an opaque `?cursor=`, answering items + next_cursor."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import HttpError
from ninja.pagination import PaginationBase

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HttpError(422, "cursor: not a cursor this API gave out.") from None


def page(
    queryset: QuerySet[Any], *, limit: int, cursor: str | None, newest_first: bool = True
) -> tuple[list[Any], str | None]:
    """Answer one page of `queryset` ordered by id, and the cursor of the next page."""
    if cursor:
        last = decode_cursor(cursor)
        queryset = queryset.filter(id__lt=last) if newest_first else queryset.filter(id__gt=last)
    queryset = queryset.order_by("-id" if newest_first else "id")
    items = list(queryset[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return items, (encode_cursor(items[-1].id) if more else None)


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
