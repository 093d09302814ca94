"""Compile a filter into a queryset filter: one condition per clause, ANDed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from evalloop.filters.fields import Scope
from evalloop.filters.language import Filter, Target, resolve

if TYPE_CHECKING:
    from evalloop.teams.models import Team

MODELS = {Target.SESSION: "chat.Session", Target.MESSAGE: "chat.Message"}


def apply_filter(queryset: QuerySet[Any], flt: Filter, *, team: Team) -> QuerySet[Any]:
    """Answer `queryset` (the team's sessions or messages) narrowed to what `flt` matches.

    Every clause keeps at most one row per outer row: clauses over messages or tags are
    EXISTS subqueries, so the answer needs no DISTINCT.
    """
    label = queryset.model._meta.label
    if label != MODELS[flt.target]:
        raise TypeError(f"A {flt.target} filter applies to {MODELS[flt.target]}, not {label}.")
    return queryset.filter(*compile_filter(flt, team=team))


def compile_filter(flt: Filter, *, team: Team) -> list[Q]:
    scope = Scope(team=team)
    conditions = []
    for clause in flt.clauses:
        field, operator = resolve(flt.target, clause)
        conditions.append(operator.compile(field, clause.value, scope.into(field.via)))
    return conditions
