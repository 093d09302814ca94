"""notify() reaches the members who can act, in one team only; mark_read marks one's own."""

import pytest

from evalloop.notifications import services
from evalloop.notifications.models import Kind, Notification
from evalloop.teams.permissions import Action, Role
from evalloop.teams.tests.factories import MembershipFactory


def recipients(notifications):
    return {notification.recipient for notification in notifications}


def test_edit_reaches_owners_admins_and_editors_not_viewers(cast):
    sent = services.notify(team=cast.team, action=Action.EDIT, kind=Kind.RUN_FAILED, title="x")
    assert recipients(sent) == {cast.owner, cast.admin, cast.editor}


def test_view_reaches_every_member(cast):
    sent = services.notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title="x")
    assert recipients(sent) == {cast.owner, cast.admin, cast.editor, cast.viewer}


def test_manage_owners_reaches_only_owners(cast):
    sent = services.notify(team=cast.team, action=Action.MANAGE_OWNERS, kind=Kind.INFO, title="x")
    assert recipients(sent) == {cast.owner}


@pytest.mark.parametrize("action", list(Action))
def test_it_never_reaches_another_teams_members(cast, action):
    MembershipFactory(team=cast.other_team, role=Role.EDITOR)
    services.notify(team=cast.team, action=action, kind=Kind.INFO, title="x")
    assert not Notification.objects.filter(recipient__memberships__team=cast.other_team).exists()
    assert set(Notification.objects.values_list("team", flat=True)) == {cast.team.pk}


def test_a_member_of_both_teams_hears_only_as_a_member_of_that_team(cast):
    MembershipFactory(team=cast.other_team, user=cast.viewer, role=Role.OWNER)
    sent = services.notify(team=cast.team, action=Action.EDIT, kind=Kind.INFO, title="x")
    assert cast.viewer not in recipients(sent)


def test_it_stores_what_was_said(cast):
    services.notify(
        team=cast.team,
        action=Action.MANAGE_OWNERS,
        kind=Kind.RULE_DISABLED,
        title="Rule disabled",
        body="Three failures in a row.",
        url="/datasets/1/",
    )
    notification = Notification.objects.get()
    assert (notification.kind, notification.title) == (Kind.RULE_DISABLED, "Rule disabled")
    assert (notification.body, notification.url, notification.read_at) == (
        "Three failures in a row.",
        "/datasets/1/",
        None,
    )


def test_it_inserts_in_one_query_whatever_the_number_of_recipients(cast, django_assert_num_queries):
    MembershipFactory.create_batch(10, team=cast.team, role=Role.EDITOR)
    with django_assert_num_queries(4):  # savepoint, recipients, one insert, release
        services.notify(team=cast.team, action=Action.EDIT, kind=Kind.INFO, title="x")
    assert Notification.objects.count() == 13


def test_mark_read_marks_one_of_the_users_own(cast):
    mine, other = services.notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title="x")[:2]
    assert services.mark_read(team=cast.team, user=mine.recipient, notification_id=mine.pk) == 1
    assert services.mark_read(team=cast.team, user=mine.recipient, notification_id=other.pk) == 0
    assert Notification.objects.unread().count() == 3


def test_mark_read_without_an_id_marks_all_of_the_user_in_that_team(cast):
    MembershipFactory(team=cast.other_team, user=cast.owner)
    for team in (cast.team, cast.other_team):
        services.notify(team=team, action=Action.VIEW, kind=Kind.INFO, title="x")
    assert services.mark_read(team=cast.team, user=cast.owner) == 1
    assert Notification.objects.for_user(cast.owner).unread().get().team == cast.other_team


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("/datasets/1/", "/datasets/1/"),
        ("", ""),
        ("javascript:alert(1)", ""),
        ("//evil.example/", ""),
        ("https://evil.example/", ""),
    ],
)
def test_a_notification_links_only_within_the_site(url, link):
    assert Notification(url=url).link == link
