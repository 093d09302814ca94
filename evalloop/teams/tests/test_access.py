"""The tenant choke point and the role table."""

import itertools

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from evalloop.teams.access import get_for_team_or_404, require, team_objects
from evalloop.teams.models import ApiKey, Membership
from evalloop.teams.permissions import (
    ACTION_LABELS,
    ROLE_ACTIONS,
    Action,
    Role,
    can,
    may_manage,
    roles_that_can,
)
from evalloop.teams.services import create_api_key


def test_get_for_team_answers_the_teams_object(cast):
    api_key = create_api_key(team=cast.team, name="k").api_key
    assert get_for_team_or_404(ApiKey, cast.team, pk=api_key.pk) == api_key


def test_get_for_team_is_404_for_another_teams_object(cast):
    api_key = create_api_key(team=cast.team, name="k").api_key
    with pytest.raises(Http404):
        get_for_team_or_404(ApiKey, cast.other_team, pk=api_key.pk)


@pytest.mark.parametrize("pk", [999_999, "abc", None])
def test_get_for_team_is_404_for_missing_or_malformed_ids(cast, pk):
    with pytest.raises(Http404):
        get_for_team_or_404(ApiKey, cast.team, pk=pk)


def test_get_for_team_keeps_a_given_querysets_filter(cast):
    viewers = Membership.objects.filter(role=Role.VIEWER)
    owner = Membership.objects.get(team=cast.team, user=cast.owner)
    with pytest.raises(Http404):
        get_for_team_or_404(viewers, cast.team, pk=owner.pk)


def test_team_objects_scopes_to_the_team(cast):
    assert set(team_objects(Membership, cast.other_team).values_list("user", flat=True)) == {
        cast.outsider.pk
    }


def test_require_raises_for_a_role_that_may_not(db):
    require(Role.EDITOR, Action.EDIT)
    with pytest.raises(PermissionDenied, match="manage members"):
        require(Role.EDITOR, Action.MANAGE_MEMBERS)
    with pytest.raises(PermissionDenied):
        require(None, Action.VIEW)


EXPECTED = {
    Role.VIEWER: {Action.VIEW},
    Role.EDITOR: {Action.VIEW, Action.EDIT},
    Role.ADMIN: {
        Action.VIEW,
        Action.EDIT,
        Action.MANAGE_MEMBERS,
        Action.MANAGE_API_KEYS,
        Action.MANAGE_PROVIDERS,
        Action.MANAGE_FLAGS,
    },
    Role.OWNER: set(Action),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_the_role_table(role, action):
    assert can(role, action) is (action in EXPECTED[role])


def test_every_role_is_in_the_table_and_each_includes_the_one_below():
    ranks = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]
    assert set(ROLE_ACTIONS) == set(Role.values)
    for lower, higher in itertools.pairwise(ranks):
        assert ROLE_ACTIONS[lower] < ROLE_ACTIONS[higher]


def test_nobody_without_a_role_may_do_anything():
    assert not any(can(role, action) for role in (None, "", "root") for action in Action)


def test_roles_that_can_reads_the_table():
    assert set(roles_that_can(Action.EDIT)) == {Role.OWNER, Role.ADMIN, Role.EDITOR}
    assert roles_that_can(Action.MANAGE_OWNERS) == [Role.OWNER]


def test_every_action_reads_in_english():
    assert set(ACTION_LABELS) == set(Action)


def test_only_owners_manage_owners_and_only_admins_manage_anyone():
    assert may_manage(Role.OWNER, Role.OWNER)
    assert not may_manage(Role.ADMIN, Role.OWNER)
    assert may_manage(Role.ADMIN, Role.ADMIN)
    assert not may_manage(Role.EDITOR, Role.VIEWER)
