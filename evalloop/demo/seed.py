"""The demo's team, its login and API key: made once, found again on every later start.

The login's plaintexts are kept in the data dir (`login.py`) to be printed again. The demo
team is the team with the slug `demo` that the demo user owns; `reset` deletes exactly that
team, with everything it holds, and the demo user, and never another team.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from evalloop.demo.login import Login, login_path, read_login, write_login
from evalloop.demo.setup import set_up
from evalloop.teams import services as teams
from evalloop.teams.flags import AUTO_POPULATE_DATASETS
from evalloop.teams.models import Membership, Team, User
from evalloop.teams.permissions import Role

EMAIL = "demo@evalloop.example"
TEAM_SLUG = "demo"
TEAM_NAME = "Demo"
KEY_NAME = "demo traffic"


def demo_team() -> Team | None:
    """The team with the demo's slug, when the demo user owns it; None when there is none."""
    team = Team.objects.filter(slug=TEAM_SLUG).first()
    if team is None:
        return None
    owned = Membership.objects.filter(team=team, user__email=EMAIL, role=Role.OWNER).exists()
    if not owned:
        raise ValidationError(
            f"The team {TEAM_SLUG!r} exists and is not the demo's (its owner is not {EMAIL}); "
            "the demo leaves it alone. Run the demo on another data dir or database."
        )
    return team


def _user(saved: Login | None) -> tuple[User, str]:
    """The demo user and its password, a new one when the saved one is lost."""
    user = User.objects.filter(email=EMAIL).first()
    if user is not None and saved is not None and user.check_password(saved.password):
        return user, saved.password
    password = secrets.token_urlsafe(12)
    if user is None:
        return teams.create_user(email=EMAIL, password=password, name="Demo user"), password
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, password


def _team(owner: User) -> Team:
    team = demo_team() or teams.create_team(slug=TEAM_SLUG, name=TEAM_NAME, owner=owner)
    teams.set_team_flag(team=team, name=AUTO_POPULATE_DATASETS, active=True)
    return team


def _api_key(team: Team, owner: User, saved: Login | None) -> str:
    """The saved key while it still works for the team; a new one when it was revoked."""
    if saved is not None:
        found = teams.authenticate_api_key(saved.api_key)
        if found is not None and found.team_id == team.pk:
            return saved.api_key
    return teams.create_api_key(team=team, name=KEY_NAME, created_by=owner).plaintext


def seed(*, data_dir: Path) -> Login:
    """Make what the demo lacks, and answer its login (written to the data dir)."""
    path = login_path(data_dir)
    saved = read_login(path)
    with transaction.atomic():
        user, password = _user(saved)
        team = _team(user)
        login = Login(email=EMAIL, password=password, api_key=_api_key(team, user, saved))
        set_up(team=team, owner=user)
    write_login(path, login)
    return login


def reset(*, data_dir: Path) -> bool:
    """Delete the demo team with all it holds, and the demo user; answer whether there was one.

    The user stays when it belongs to another team too (someone added it there).
    """
    with transaction.atomic():
        team = demo_team()
        if team is not None:
            team.delete()
        user = User.objects.filter(email=EMAIL).first()
        if user is not None and not user.memberships.exists():
            user.delete()
    login_path(data_dir).unlink(missing_ok=True)
    return team is not None
