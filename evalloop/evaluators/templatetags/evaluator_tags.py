"""Template filters of the evaluator pages."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A value as JSON text (escaped by the template like any text)."""
    return json.dumps(value, ensure_ascii=False)


@register.filter
def as_param(value: Any) -> str:
    """A param as people write it: text as it is (a pattern, a prompt, code), the rest as JSON."""
    return value if isinstance(value, str) else as_json(value)
