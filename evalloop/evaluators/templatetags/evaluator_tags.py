"""Template filters of the evaluator pages."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A param or output value as JSON text (escaped by the template like any text)."""
    return json.dumps(value, ensure_ascii=False)
