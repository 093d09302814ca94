"""The registry of evaluator kinds: a kind is a folder here plus one line below."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from evalloop.evaluators.kinds.base import Kind

# kind name -> module holding `KIND`, the kind's instance
REGISTRY: dict[str, str] = {
    "contains": "evalloop.evaluators.kinds.contains",
    "regex": "evalloop.evaluators.kinds.regex",
    "exact_match": "evalloop.evaluators.kinds.exact_match",
    "json_valid": "evalloop.evaluators.kinds.json_valid",
    "length": "evalloop.evaluators.kinds.length",
    "python": "evalloop.evaluators.kinds.python",
    "llm_judge": "evalloop.evaluators.kinds.llm_judge",
}


@cache
def get_kind(name: str) -> Kind:
    """Answer the kind called `name`; KeyError for an unknown one."""
    kind: Kind = import_module(REGISTRY[name]).KIND
    return kind
