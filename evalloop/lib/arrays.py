"""`field IN (ids)` for long lists of ids: one array parameter on PostgreSQL.

An IN list takes a parameter per id, each one prepared by the ORM and quoted by the driver;
for the pages of hundreds of ids that bulk work reads, that costs milliseconds per query.
PostgreSQL takes the whole list as one array, `field = ANY(%s)`; other databases keep IN.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField, F, Q, Value
from django.db.models.expressions import Func


class _AnyOf(Func):
    # Two expressions, the field and the array: "field = ANY(array::bigint[])".
    arg_joiner = " = ANY("
    template = "%(expressions)s::bigint[])"
    output_field = BooleanField()


def id_in(field: str, ids: Iterable[int]) -> Q | _AnyOf:
    """A filter for `field` among `ids` (a lookup path such as `session_id` or `pk`)."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return _AnyOf(F(field), Value(ids))
    return Q(**{f"{field}__in": ids})
