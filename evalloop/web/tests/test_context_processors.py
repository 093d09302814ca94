"""What every page's layout gets from the shell context processor."""

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from evalloop.notifications.models import Kind
from evalloop.notifications.services import notify
from evalloop.teams.permissions import Action, Role
from evalloop.web.context_processors import shell


def shell_for(user, team, role):
    request = RequestFactory().get("/")
    request.user, request.team, request.role = user, team, role
    return shell(request)


def test_the_unread_count_costs_one_query_and_only_when_shown(cast, django_assert_num_queries):
    for _ in range(3):
        notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title="x")
    with django_assert_num_queries(0):
        context = shell_for(cast.viewer, cast.team, Role.VIEWER)
    with django_assert_num_queries(1):
        assert bool(context["unread_count"])
        assert str(context["unread_count"]) == "3"


def test_the_unread_count_is_the_users_in_the_current_team(cast):
    notify(team=cast.team, action=Action.EDIT, kind=Kind.INFO, title="x")
    notify(team=cast.other_team, action=Action.VIEW, kind=Kind.INFO, title="x")
    assert str(shell_for(cast.viewer, cast.team, Role.VIEWER)["unread_count"]) == "0"
    assert str(shell_for(cast.editor, cast.team, Role.EDITOR)["unread_count"]) == "1"


def test_it_says_what_the_role_may_do(cast):
    viewer = shell_for(cast.viewer, cast.team, Role.VIEWER)
    admin = shell_for(cast.admin, cast.team, Role.ADMIN)
    assert (viewer["may_edit"], viewer["may_admin"]) == (False, False)
    assert (admin["may_edit"], admin["may_admin"]) == (True, True)


def test_it_lists_only_the_users_teams(cast):
    assert list(shell_for(cast.outsider, cast.other_team, Role.OWNER)["user_teams"]) == [
        cast.other_team
    ]


def test_without_a_team_there_is_no_team_context(db):
    assert shell_for(AnonymousUser(), None, None) == {"current_team": None}
