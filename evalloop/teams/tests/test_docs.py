"""docs/tenancy.md stays true to the role table and the flag catalogue."""

from pathlib import Path

from django.conf import settings

from evalloop.teams.flags import CATALOGUE
from evalloop.teams.permissions import ACTION_LABELS, ROLE_ACTIONS, Action, Role

TENANCY = Path(settings.BASE_DIR) / "docs" / "tenancy.md"
COLUMNS = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]


def role_table() -> str:
    """Render ROLE_ACTIONS as the Markdown table the doc holds."""
    lines = [
        "| Action | " + " | ".join(Role(role).label for role in COLUMNS) + " |",
        "| --- " * (len(COLUMNS) + 1) + "|",
    ]
    for action in Action:
        cells = ["yes" if action in ROLE_ACTIONS[role] else "no" for role in COLUMNS]
        lines.append(f"| {ACTION_LABELS[action]} (`{action.value}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def documented_role_table() -> str:
    text = TENANCY.read_text()
    start = text.index("\n", text.index("<!-- role-table")) + 1
    return text[start : text.index("<!-- /role-table -->")].strip()


def test_the_role_table_in_the_docs_is_the_one_in_the_code():
    expected = role_table()
    assert documented_role_table() == expected, f"Paste into docs/tenancy.md:\n{expected}"


def test_every_team_flag_is_documented():
    text = TENANCY.read_text()
    for name in CATALOGUE:
        assert f"| `{name}` |" in text, f"Document the flag {name} in docs/tenancy.md."
