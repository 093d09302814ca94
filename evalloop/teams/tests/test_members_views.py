"""Settings > Members: everyone reads the list; admins add, change and remove; owners own."""

import pytest
from django.urls import reverse

from evalloop.teams.models import Membership
from evalloop.teams.permissions import Role
from evalloop.teams.tests.factories import MembershipFactory, UserFactory

MEMBERS = reverse("settings-members")


def role_url(membership):
    return reverse("settings-member-role", args=[membership.pk])


def remove_url(membership):
    return reverse("settings-member-remove", args=[membership.pk])


def membership(team, user):
    return Membership.objects.get(team=team, user=user)


def test_the_list_shows_every_member_with_their_role(cast, login):
    html = login(cast.viewer).get(MEMBERS).content.decode()
    for email in ("owner@a.example", "admin@a.example", "editor@a.example", "viewer@a.example"):
        assert email in html
    assert "outsider@b.example" not in html


def test_the_viewer_reads_the_list_without_controls(cast, login):
    html = login(cast.viewer).get(MEMBERS).content.decode()
    assert "Add a member" not in html
    assert "<select" not in html


def test_an_admin_sees_controls_but_none_for_owners(cast, login):
    html = login(cast.admin).get(MEMBERS).content.decode()
    assert "Add a member" in html
    assert role_url(membership(cast.team, cast.editor)) in html
    assert role_url(membership(cast.team, cast.owner)) not in html
    assert '<option value="owner"' not in html


def test_the_list_costs_the_same_queries_for_any_number_of_members(
    cast, login, django_assert_num_queries
):
    client = login(cast.owner)
    MembershipFactory.create_batch(20, team=cast.team)
    # session, user, membership, unread count, the user's teams; then the members with users
    with django_assert_num_queries(6):
        assert client.get(MEMBERS).status_code == 200


def test_an_admin_adds_an_existing_user_by_email(cast, login):
    newcomer = UserFactory(email="new@example.com")
    response = login(cast.admin).post(MEMBERS, {"email": "New@Example.com", "role": Role.EDITOR})
    assert response.status_code == 302
    assert membership(cast.team, newcomer).role == Role.EDITOR


def test_a_malformed_email_is_a_form_error(cast, login):
    response = login(cast.admin).post(MEMBERS, {"email": "ghost@", "role": "viewer"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert Membership.objects.filter(team=cast.team).count() == 4


def test_adding_a_member_twice_is_a_form_error(cast, login):
    response = login(cast.admin).post(MEMBERS, {"email": cast.viewer.email, "role": "editor"})
    assert "already a member" in response.content.decode()
    assert membership(cast.team, cast.viewer).role == Role.VIEWER


def test_an_admin_cannot_add_an_owner(cast, login):
    UserFactory(email="new@example.com")
    response = login(cast.admin).post(MEMBERS, {"email": "new@example.com", "role": Role.OWNER})
    assert response.status_code == 200
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_an_owner_adds_an_owner(cast, login):
    newcomer = UserFactory(email="new@example.com")
    login(cast.owner).post(MEMBERS, {"email": "new@example.com", "role": Role.OWNER})
    assert membership(cast.team, newcomer).role == Role.OWNER


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_add_members(cast, login, role):
    UserFactory(email="new@example.com")
    response = login(getattr(cast, role)).post(MEMBERS, {"email": "new@example.com", "role": role})
    assert response.status_code == 403
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_an_admin_changes_a_role(cast, login):
    target = membership(cast.team, cast.viewer)
    response = login(cast.admin).post(role_url(target), {"role": Role.EDITOR})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == Role.EDITOR


def test_htmx_gets_the_row_back(cast, login):
    target = membership(cast.team, cast.viewer)
    response = login(cast.admin).post(role_url(target), {"role": "editor"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith(f'<tr id="member-{target.pk}"')
    assert '<option value="editor" selected>' in html
    assert "<html" not in html


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_change_roles(cast, login, role):
    target = membership(cast.team, cast.viewer)
    response = login(getattr(cast, role)).post(role_url(target), {"role": Role.ADMIN})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_an_admin_cannot_grant_the_owner_role(cast, login):
    target = membership(cast.team, cast.editor)
    response = login(cast.admin).post(role_url(target), {"role": Role.OWNER}, follow=True)
    assert "Choose one of the roles you may grant" in response.content.decode()
    target.refresh_from_db()
    assert target.role == Role.EDITOR


def test_an_admin_cannot_demote_an_owner(cast, login):
    target = membership(cast.team, cast.owner)
    assert login(cast.admin).post(role_url(target), {"role": Role.VIEWER}).status_code == 403
    target.refresh_from_db()
    assert target.role == Role.OWNER


def test_an_owner_grants_and_takes_the_owner_role(cast, login):
    client = login(cast.owner)
    target = membership(cast.team, cast.admin)
    client.post(role_url(target), {"role": Role.OWNER})
    target.refresh_from_db()
    assert target.role == Role.OWNER
    client.post(role_url(target), {"role": Role.EDITOR})
    target.refresh_from_db()
    assert target.role == Role.EDITOR


def test_the_last_owner_cannot_demote_themselves(cast, login):
    target = membership(cast.team, cast.owner)
    response = login(cast.owner).post(role_url(target), {"role": Role.ADMIN}, follow=True)
    assert "last owner cannot be demoted" in response.content.decode()
    target.refresh_from_db()
    assert target.role == Role.OWNER


def test_htmx_shows_the_last_owner_message_in_the_row(cast, login):
    target = membership(cast.team, cast.owner)
    response = login(cast.owner).post(role_url(target), {"role": "viewer"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "last owner cannot be demoted" in html
    assert '<option value="owner" selected>' in html


def test_the_remove_page_asks_for_confirmation(cast, login):
    target = membership(cast.team, cast.viewer)
    response = login(cast.admin).get(remove_url(target))
    assert response.status_code == 200
    assert "Remove viewer@a.example?" in response.content.decode()
    assert Membership.objects.filter(pk=target.pk).exists()


def test_an_admin_removes_a_member(cast, login):
    target = membership(cast.team, cast.viewer)
    response = login(cast.admin).post(remove_url(target))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_a_removed_member_loses_access(cast, login):
    client = login(cast.viewer)
    login(cast.admin).post(remove_url(membership(cast.team, cast.viewer)))
    assert client.get(reverse("home")).url == reverse("team-create")


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_remove_members(cast, login, role):
    target = membership(cast.team, cast.admin)
    assert login(getattr(cast, role)).post(remove_url(target)).status_code == 403
    assert login(getattr(cast, role)).get(remove_url(target)).status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_an_admin_cannot_remove_an_owner(cast, login):
    target = membership(cast.team, cast.owner)
    assert login(cast.admin).post(remove_url(target)).status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_the_last_owner_cannot_be_removed(cast, login):
    target = membership(cast.team, cast.owner)
    response = login(cast.owner).post(remove_url(target), follow=True)
    assert "last owner cannot be removed" in response.content.decode()
    assert Membership.objects.filter(pk=target.pk).exists()


def test_one_of_two_owners_can_leave(cast, login):
    MembershipFactory(team=cast.team, role=Role.OWNER)
    target = membership(cast.team, cast.owner)
    response = login(cast.owner).post(remove_url(target))
    assert response.url == reverse("home")
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_the_outsider_gets_404_for_team_a_members(cast, login):
    client = login(cast.outsider)
    target = membership(cast.team, cast.viewer)
    assert client.post(role_url(target), {"role": Role.ADMIN}).status_code == 404
    assert client.get(remove_url(target)).status_code == 404
    assert client.post(remove_url(target)).status_code == 404
    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_the_outsider_adds_members_to_their_own_team_only(cast, login):
    login(cast.outsider).post(MEMBERS, {"email": cast.viewer.email, "role": Role.ADMIN})
    assert membership(cast.team, cast.viewer).role == Role.VIEWER
    assert membership(cast.other_team, cast.viewer).role == Role.ADMIN
