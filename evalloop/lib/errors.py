"""Exceptions services raise that every interface (API, views, CLI) knows how to answer."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms

Loc = tuple[str | int, ...]


class Conflict(Exception):
    """The request conflicts with the current state (the API answers 409).

    `field` names the input whose value conflicts (a taken name): the API places the
    message at `["body", field]`, forms beside that field. The message is plain words
    for people, with no field name in it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def add_conflict(form: forms.BaseForm, exc: Conflict) -> None:
    """Show a conflict on `form`: beside the field it names, or above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


class Invalid(ValueError):
    """Input a service refuses, each problem placed by where it lies in the input.

    A place is a path into the input (`("params", "pattern")`); the API answers 422 with
    `["body", *place]`, forms put the message beside the field the place names.
    """

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = [(tuple(loc), message) for loc, message in problems]
        super().__init__("; ".join(describe(loc, message) for loc, message in self.problems))


def describe(loc: Loc, message: str) -> str:
    """A problem in words: `params.pattern: not a valid regular expression`."""
    where = ".".join(str(part) for part in loc)
    return f"{where}: {message}" if where else message
