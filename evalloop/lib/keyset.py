"""Keyset paging: one page of a queryset after an opaque cursor, in a fixed order.

A cursor holds the ordering values of the last object of the previous page, so a page costs
the same wherever it lies in the list, and objects added meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet

from evalloop.lib.moments import check_moment

M = TypeVar("M", bound=models.Model)


class BadCursor(ValueError):
    """A cursor this list never gave out."""


@dataclass(frozen=True)
class Key:
    """One ordering term: a non-null field name, descending when written `-name`."""

    name: str
    descending: bool

    @classmethod
    def parse(cls, term: str) -> Key:
        return cls(term.removeprefix("-"), term.startswith("-"))

    def field(self, model: type[models.Model]) -> models.Field[Any, Any]:
        return model._meta.pk if self.name == "pk" else model._meta.get_field(self.name)  # type: ignore[return-value]


def page(
    queryset: QuerySet[M], *, order: Sequence[str], limit: int, cursor: str | None
) -> tuple[list[M], str | None]:
    """Answer up to `limit` objects after `cursor` and the cursor of the next page, if any.

    `order` ends with a unique field, e.g. `("-created_at", "-id")`: newest first.
    """
    keys = [Key.parse(term) for term in order]
    if cursor:
        queryset = queryset.filter(after(keys, decode(cursor, keys, queryset.model)))
    items = list(queryset.order_by(*order)[: limit + 1])
    if len(items) <= limit:
        return items, None
    return items[:limit], encode(items[limit - 1], keys)


def after(keys: Sequence[Key], values: Sequence[Any]) -> Q:
    """The objects after `values` in the order of `keys`: the first unequal key decides."""
    condition = Q()
    for index, key in enumerate(keys):
        step = Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": values[index]})
        for earlier, value in zip(keys[:index], values[:index], strict=True):
            step &= Q(**{earlier.name: value})
        condition |= step
    return condition


def encode(obj: models.Model, keys: Sequence[Key]) -> str:
    values = [key.field(type(obj)).value_to_string(obj) for key in keys]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode(cursor: str, keys: Sequence[Key], model: type[models.Model]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(keys):
            raise BadCursor(cursor)
        return [
            checked(key.field(model).to_python(value))
            for key, value in zip(keys, values, strict=True)
        ]
    except (ValueError, TypeError, OverflowError, binascii.Error, ValidationError):
        raise BadCursor(cursor) from None


def checked(value: Any) -> Any:
    """A cursor's value as the database compares it: a time in range, a 64-bit integer."""
    if isinstance(value, datetime):
        return check_moment(value).astimezone(UTC)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise BadCursor(value)
    return value
