"""Template filters of the evaluator pages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import template

from evalloop.evaluators.kinds.llm_judge import without_provider
from evalloop.evaluators.models import Evaluator

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A value as JSON text (escaped by the template like any text)."""
    return json.dumps(value, ensure_ascii=False)


@register.filter
def as_param(value: Any) -> str:
    """A param as people write it: text as it is (a pattern, a prompt, code), the rest as JSON."""
    return value if isinstance(value, str) else as_json(value)


@register.inclusion_tag("evaluators/_provider_notice.html")
def provider_notice(evaluators: Evaluator | Iterable[Evaluator]) -> dict[str, Any]:
    """Say, for each judge among `evaluators` without a usable provider, how to give it one."""
    listed = [evaluators] if isinstance(evaluators, Evaluator) else list(evaluators)
    return {"judges": without_provider(listed)}
