"""The fixed cast every view and endpoint test uses.

Team A has an owner, an admin, an editor and a viewer; team B has an outsider, who must
see 404 for anything of team A.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from evalloop.teams import services
from evalloop.teams.models import Team, User
from evalloop.teams.permissions import Role
from evalloop.teams.tests.factories import PASSWORD, MembershipFactory, UserFactory


@dataclass
class Cast:
    team: Team
    other_team: Team
    owner: User
    admin: User
    editor: User
    viewer: User
    outsider: User


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Hash test passwords with a cheap hasher: the real one costs a third of a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_in_process() -> None:
    """Run tasks sent by the code under test in-process, never into the developer's broker.

    Tests of real brokers start their own worker and sender processes.
    """
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture
def cast(db: None) -> Cast:
    owner = UserFactory(email="owner@a.example")
    team = services.create_team(slug="team-a", name="Team A", owner=owner)
    outsider = UserFactory(email="outsider@b.example")
    other_team = services.create_team(slug="team-b", name="Team B", owner=outsider)
    members = {
        role: MembershipFactory(team=team, role=role, user__email=f"{role}@a.example").user
        for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER)
    }
    return Cast(
        team=team,
        other_team=other_team,
        owner=owner,
        admin=members[Role.ADMIN],
        editor=members[Role.EDITOR],
        viewer=members[Role.VIEWER],
        outsider=outsider,
    )


@pytest.fixture
def login() -> Callable[[User], Client]:
    """Answer a test client logged in as the given user."""

    def _login(user: User) -> Client:
        client = Client()
        assert client.login(username=user.email, password=PASSWORD)
        return client

    return _login


class ApiClient:
    """A test client that sends `Authorization: Bearer <key>` and JSON."""

    def __init__(self, key: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(self, path: str, **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, data: object = None):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", data, content_type="application/json")

    def patch(self, path: str, data: object = None):  # type: ignore[no-untyped-def]
        return self.client.patch(f"/api/v1{path}", data, content_type="application/json")

    def delete(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.delete(f"/api/v1{path}")


@pytest.fixture
def api(cast: Cast) -> Callable[..., ApiClient]:
    """Answer an API client for a key of `team` (team A by default) with `role`."""

    def _api(role: str = Role.EDITOR, team: Team | None = None) -> ApiClient:
        issued = services.create_api_key(team=team or cast.team, name=f"{role} key", role=role)
        return ApiClient(issued.plaintext)

    return _api
