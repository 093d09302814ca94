"""The one table that says which role may do which action."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class Action(StrEnum):
    VIEW = "view"  # read anything of the team
    EDIT = "edit"  # create and change datasets, evaluators, configs, rules, runs, traffic
    MANAGE_MEMBERS = "manage_members"
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_PROVIDERS = "manage_providers"
    MANAGE_FLAGS = "manage_flags"
    MANAGE_OWNERS = "manage_owners"  # grant or take away the owner role


_VIEWER = frozenset({Action.VIEW})
_EDITOR = _VIEWER | {Action.EDIT}
_ADMIN = _EDITOR | {
    Action.MANAGE_MEMBERS,
    Action.MANAGE_API_KEYS,
    Action.MANAGE_PROVIDERS,
    Action.MANAGE_FLAGS,
}
_OWNER = _ADMIN | {Action.MANAGE_OWNERS}

# How each action reads to a person (settings pages and docs/tenancy.md use these).
ACTION_LABELS: dict[Action, str] = {
    Action.VIEW: "Read everything of the team",
    Action.EDIT: "Create and change chatbots, traffic, datasets, evaluators, configs, rules, runs",
    Action.MANAGE_MEMBERS: "Add members, change their roles, remove them",
    Action.MANAGE_API_KEYS: "Create and revoke API keys",
    Action.MANAGE_PROVIDERS: "Manage LLM providers",
    Action.MANAGE_FLAGS: "Switch feature flags",
    Action.MANAGE_OWNERS: "Grant or take away the owner role",
}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.EDITOR: _EDITOR,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _OWNER,
}


def can(role: str | None, action: Action) -> bool:
    """Answer whether a member (or API key) with `role` may perform `action`."""
    return role is not None and action in ROLE_ACTIONS.get(role, frozenset())


def roles_that_can(action: Action) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def may_manage(actor_role: str | None, target_role: str) -> bool:
    """Answer whether `actor_role` may change or remove a member who has `target_role`."""
    if target_role == Role.OWNER and not can(actor_role, Action.MANAGE_OWNERS):
        return False
    return can(actor_role, Action.MANAGE_MEMBERS)
