"""JSON Schemas from users, made safe to check: local references only, linear-time patterns.

A JSON Schema can name other documents by URL (`"$ref": "https://..."`), which would make
each evaluation fetch from the network; its `pattern` keywords are regular expressions that
the `jsonschema` package runs with Python's backtracking `re`; and chains of references can
multiply the work of one check. So a schema is refused unless every reference points inside
it, its size and number of references are bounded, and every pattern is in evalloop's RE2
dialect; and the validator built here matches `pattern` with RE2 and has no way to fetch.
Even so, a check costs about the schema's size times the value's, so a counting validator
gives each check a budget of keyword evaluations and stops it once spent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import ValidationError as InstanceInvalid
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from evalloop.lib import regex

MAX_SCHEMA_CHARS = 20_000
MAX_REFS = 20
# Keyword evaluations one check may spend (about a second's work); a usual check needs hundreds.
MAX_STEPS = 200_000
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REFERENCES = ("$ref", "$dynamicRef")
# Keywords whose value is a map of user names to schemas: their keys are not keywords.
NAMED_SCHEMAS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})


class SchemaProblem(ValueError):
    """A JSON Schema evalloop will not run; the message says what is wrong and where."""


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[InstanceInvalid]:
    if isinstance(instance, str) and regex.search(pattern, instance) is None:
        yield InstanceInvalid(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with `pattern` run by RE2; `patternProperties` is refused before it gets here.
SafeValidator = extend(Draft202012Validator, validators={"pattern": _pattern})


def check_schema(schema: dict[str, Any]) -> None:
    """Raise SchemaProblem unless `schema` is a sound, self-contained, bounded JSON Schema."""
    if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        raise SchemaProblem(f"a JSON schema may hold at most {MAX_SCHEMA_CHARS} characters")
    if schema.get("$schema", DIALECT) != DIALECT:
        raise SchemaProblem(f"only JSON Schema draft 2020-12 is supported ($schema {DIALECT})")
    references = []
    for path, key, value in _keywords(schema, ()):
        if key in REFERENCES:
            references.append((path, value))
        _check_keyword(path, key, value)
    if len(references) > MAX_REFS:
        raise SchemaProblem(f"a JSON schema may hold at most {MAX_REFS} references ($ref)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        error = best_match([exc]) or exc
        raise SchemaProblem(
            f"not a valid JSON schema at {error.json_path}: {error.message}"
        ) from None
    _check_references(schema, references)


def _check_references(schema: dict[str, Any], references: list[tuple[str, str]]) -> None:
    """Refuse a reference that leads nowhere from the root (a nested $id moves the base of a
    reference, so such schemas are checked when they are evaluated instead)."""
    if any(key == "$id" and path != "$.$id" for path, key, _ in _keywords(schema, ())):
        return
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for path, reference in references:
        try:
            resolver.lookup(reference)
        except Unresolvable:
            raise SchemaProblem(f"{path}: {reference} points nowhere in the schema") from None


def _check_keyword(path: str, key: str, value: Any) -> None:
    if key in REFERENCES and not (isinstance(value, str) and value.startswith("#")):
        raise SchemaProblem(f"{path}: only references inside the schema (#/...) are allowed")
    if key in ("$recursiveRef", "patternProperties"):
        raise SchemaProblem(f"{path}: {key} is not supported")
    if key == "pattern" and isinstance(value, str):
        try:
            regex.check(value)
        except regex.RegexError as exc:
            raise SchemaProblem(f"{path}: {exc}") from None


def _keywords(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str, str, Any]]:
    """Every keyword of the schema with its place, skipping the user names of properties."""
    stack: list[tuple[Any, tuple[str | int, ...], bool]] = [(node, path, False)]
    while stack:
        item, at, names = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if not names:
                    yield _where(at, key), key, value
                stack.append((value, (*at, key), not names and key in NAMED_SCHEMAS))
        elif isinstance(item, list):
            stack.extend((value, (*at, index), False) for index, value in enumerate(item))


def _where(path: tuple[str | int, ...], key: str) -> str:
    return "$" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in (*path, key)
    )


class TooCostly(Exception):
    """A check spent its budget of keyword evaluations."""


class Budget:
    """The keyword evaluations left to the current check; `reset` before each check."""

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.steps = steps
        self.left = steps

    def reset(self) -> None:
        self.left = self.steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TooCostly


def validator(schema: dict[str, Any], budget: Budget) -> Validator:
    """A validator of a checked `schema` that never fetches (its registry holds nothing remote)
    and spends one step of `budget` per keyword it evaluates."""
    counted = {name: _counted(check, budget) for name, check in SafeValidator.VALIDATORS.items()}
    return extend(SafeValidator, validators=counted)(schema, registry=Registry())


Keyword = Callable[[Any, Any, Any, Any], Iterator[InstanceInvalid]]


def _counted(check: Keyword, budget: Budget) -> Keyword:
    def counted(
        validator: Any, value: Any, instance: Any, schema: Any
    ) -> Iterator[InstanceInvalid]:
        budget.spend()
        return check(validator, value, instance, schema)

    return counted
