"""The judge's prompt template: `{{variable}}` over a row, rendered without running anything.

User text is never handed to a template engine: the only syntax is `{{name}}` or
`{{name.path.to.key}}`, looked up in the row's plain JSON. A missing key renders empty, a
value that is not a string renders as JSON, and `{{history}}` renders as readable turns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from evalloop.evaluators.kinds.base import RowData

VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
TEXT_FIELDS = ("input", "output", "expected_output", "history")
JSON_FIELDS = ("context", "participant_data", "state")
_KEY = re.compile(r"^[^\s.{}]+$")
ROLE_NAMES = {"human": "Human", "user": "Human", "ai": "AI", "assistant": "AI", "system": "System"}
HELP = (
    "use {{input}}, {{output}}, {{expected_output}}, {{history}}, {{context.<key>}}, "
    "{{participant_data.<key>}} or {{state.<key>}}"
)


def variables(template: str) -> list[str]:
    """The names between `{{` and `}}`, in order, spaces around them dropped."""
    return [match.strip() for match in VARIABLE.findall(template)]


def is_known(name: str) -> bool:
    head, dot, path = name.partition(".")
    if head in TEXT_FIELDS:
        return not dot
    if head in JSON_FIELDS:
        return not dot or all(_KEY.match(key) for key in path.split("."))
    return False


def unknown_variables(template: str) -> list[str]:
    """The variables of `template` no row has, each once, in order."""
    return list(dict.fromkeys(name for name in variables(template) if not is_known(name)))


def unknown_message(names: list[str]) -> str:
    listed = ", ".join("{{" + name + "}}" for name in names)
    return f"Unknown template variable{'s' if len(names) > 1 else ''} {listed}: {HELP}."


def render(template: str, row: RowData) -> str:
    """The template with each variable replaced by the row's value as text."""
    return VARIABLE.sub(lambda match: _text(match.group(1).strip(), row), template)


def _text(name: str, row: RowData) -> str:
    if not is_known(name):
        return ""
    if name == "history":
        return history_text(row.get("history"))
    return as_text(lookup(row, name))


def lookup(row: RowData, name: str) -> Any:
    """The value at a dotted path into the row; None when any step is missing."""
    value: Any = row
    for key in name.split("."):
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def history_text(history: Any) -> str:
    """Turns as `Human: ...` and `AI: ...` lines."""
    if not isinstance(history, list):
        return as_text(history)
    return "\n".join(_turn_text(turn) for turn in history)


def _turn_text(turn: Any) -> str:
    if isinstance(turn, Mapping) and "content" in turn:
        role = str(turn.get("role") or "")
        label = ROLE_NAMES.get(role.lower(), role.capitalize() or "Unknown")
        return f"{label}: {as_text(turn['content'])}"
    return as_text(turn)
