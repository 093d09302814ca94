"""Team services: teams, members, the last-owner rule, API keys, flags."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from evalloop.lib import keys
from evalloop.teams import flags, links, services
from evalloop.teams.models import ApiKey, Flag, Membership, Team
from evalloop.teams.permissions import Role
from evalloop.teams.tests.factories import MembershipFactory, UserFactory


def owner_of(team):
    return Membership.objects.get(team=team, role=Role.OWNER)


# -- teams and members ----------------------------------------------------------------------


def test_create_team_makes_the_creator_its_only_member_and_owner(db):
    user = UserFactory()
    team = services.create_team(slug="acme", name="Acme", owner=user)
    assert list(team.memberships.values_list("user", "role")) == [(user.pk, Role.OWNER)]


def test_create_team_switches_on_the_flags_for_new_teams(db):
    team = services.create_team(slug="acme", name="Acme", owner=UserFactory())
    assert flags.is_active(team, flags.AUTO_POPULATE_DATASETS)


def test_create_team_refuses_a_taken_slug(cast):
    with pytest.raises(ValidationError, match="already exists"):
        services.create_team(slug="team-a", name="Again", owner=cast.viewer)
    assert Team.objects.count() == 2


def test_add_member_finds_the_user_by_email_in_any_case(cast):
    user = UserFactory(email="new@example.com")
    membership = services.add_member(team=cast.team, email=" NEW@example.com ", role=Role.EDITOR)
    assert (membership.user, membership.role) == (user, Role.EDITOR)


def test_add_member_creates_an_account_without_a_password_for_a_new_address(cast):
    membership = services.add_member(team=cast.team, email=" Ghost@Example.com", role="viewer")
    user = membership.user
    assert (user.email, membership.team, membership.role) == (
        "ghost@example.com",
        cast.team,
        "viewer",
    )
    assert not user.has_usable_password()
    assert services.may_have_password_link(membership)


def test_a_link_is_only_for_an_account_without_a_password_of_this_team_alone(cast):
    new = services.add_member(team=cast.team, email="new@example.com", role=Role.VIEWER)
    services.add_member(team=cast.other_team, email="new@example.com", role=Role.VIEWER)
    viewer = Membership.objects.get(team=cast.team, user=cast.viewer)
    assert not services.may_have_password_link(new)  # team B relies on the account too
    assert not services.may_have_password_link(viewer)  # has a password
    with pytest.raises(services.TeamError, match="has set a password already or belongs"):
        services.make_password_link(membership=viewer)


def test_a_new_link_replaces_the_ones_before(cast):
    membership = services.add_member(team=cast.team, email="new@example.com", role="viewer")
    first = services.make_password_link(membership=membership)
    second = services.make_password_link(membership=membership)
    with pytest.raises(links.BadLink, match="used already, or a newer link replaced it"):
        links.user_for_token(first)
    assert links.user_for_token(second) == membership.user


def test_add_member_refuses_a_member(cast):
    with pytest.raises(ValidationError, match="already a member"):
        services.add_member(team=cast.team, email=cast.viewer.email, role=Role.ADMIN)
    assert Membership.objects.get(team=cast.team, user=cast.viewer).role == Role.VIEWER


def test_add_member_refuses_an_unknown_role(cast):
    UserFactory(email="new@example.com")
    with pytest.raises(ValidationError) as error:
        services.add_member(team=cast.team, email="new@example.com", role="king")
    assert "role" in error.value.message_dict


def test_change_role_changes_the_role(cast):
    membership = Membership.objects.get(team=cast.team, user=cast.viewer)
    services.change_role(membership=membership, role=Role.ADMIN)
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_the_last_owner_cannot_be_demoted(cast):
    with pytest.raises(services.TeamError, match="last owner"):
        services.change_role(membership=owner_of(cast.team), role=Role.ADMIN)
    assert owner_of(cast.team).user == cast.owner


def test_an_owner_with_a_co_owner_can_be_demoted(cast):
    MembershipFactory(team=cast.team, role=Role.OWNER)
    membership = Membership.objects.get(team=cast.team, user=cast.owner)
    services.change_role(membership=membership, role=Role.VIEWER)
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_an_owner_of_another_team_does_not_count_as_a_co_owner(cast):
    with pytest.raises(services.TeamError):
        services.remove_member(membership=owner_of(cast.team))


def test_the_last_owner_cannot_be_removed(cast):
    with pytest.raises(services.TeamError, match="last owner cannot be removed"):
        services.remove_member(membership=owner_of(cast.team))
    assert Membership.objects.filter(team=cast.team, role=Role.OWNER).count() == 1


def test_remove_member_removes_only_that_membership(cast):
    services.add_member(team=cast.other_team, email=cast.viewer.email, role=Role.VIEWER)
    services.remove_member(membership=Membership.objects.get(team=cast.team, user=cast.viewer))
    assert list(cast.viewer.memberships.values_list("team", flat=True)) == [cast.other_team.pk]


# -- API keys ----------------------------------------------------------------------------


def test_a_new_key_is_stored_as_prefix_and_hmac(cast):
    issued = services.create_api_key(team=cast.team, name="k", role=Role.VIEWER)
    prefix, secret = keys.split(issued.plaintext)
    stored = ApiKey.objects.get(pk=issued.api_key.pk)
    assert stored.prefix == prefix
    assert secret not in stored.digest
    assert keys.matches(secret, stored.digest)


def test_two_keys_never_share_a_prefix_or_secret(cast):
    first = services.create_api_key(team=cast.team, name="a")
    second = services.create_api_key(team=cast.team, name="b")
    assert first.api_key.prefix != second.api_key.prefix
    assert first.plaintext != second.plaintext


def test_authenticate_answers_the_key_with_its_team(cast):
    issued = services.create_api_key(team=cast.team, name="k")
    api_key = services.authenticate_api_key(issued.plaintext)
    assert api_key == issued.api_key
    assert api_key.team == cast.team


@pytest.mark.parametrize("garbage", ["", "nonsense", "ev__", "ev_abc_", "ev_000000000000_x"])
def test_authenticate_refuses_garbage(cast, garbage):
    assert services.authenticate_api_key(garbage) is None


def test_authenticate_refuses_a_right_prefix_with_a_wrong_secret(cast):
    issued = services.create_api_key(team=cast.team, name="k")
    assert services.authenticate_api_key(issued.plaintext + "x") is None


def test_authenticate_refuses_a_revoked_key(cast):
    issued = services.create_api_key(team=cast.team, name="k")
    services.revoke_api_key(api_key=issued.api_key)
    assert services.authenticate_api_key(issued.plaintext) is None


def test_revoke_records_the_time_once(cast):
    issued = services.create_api_key(team=cast.team, name="k")
    services.revoke_api_key(api_key=issued.api_key)
    first = ApiKey.objects.get(pk=issued.api_key.pk).revoked_at
    services.revoke_api_key(api_key=issued.api_key)
    assert first is not None
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at == first


def test_authenticate_records_the_first_use(cast):
    issued = services.create_api_key(team=cast.team, name="k")
    services.authenticate_api_key(issued.plaintext)
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at is not None


def test_authenticate_does_not_write_on_every_call(cast, django_assert_num_queries):
    issued = services.create_api_key(team=cast.team, name="k")
    recent = timezone.now() - timedelta(seconds=services.LAST_USED_RESOLUTION_SECONDS / 2)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=recent)
    with django_assert_num_queries(1):
        services.authenticate_api_key(issued.plaintext)
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == recent


def test_authenticate_refreshes_a_stale_last_use(cast):
    issued = services.create_api_key(team=cast.team, name="k")
    stale = timezone.now() - timedelta(seconds=services.LAST_USED_RESOLUTION_SECONDS * 2)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=stale)
    services.authenticate_api_key(issued.plaintext)
    used = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert used is not None
    assert used > stale


def test_create_api_key_refuses_an_unknown_role(cast):
    with pytest.raises(ValidationError):
        services.create_api_key(team=cast.team, name="k", role="root")
    assert not ApiKey.objects.exists()


# -- flags ----------------------------------------------------------------------------------


def test_set_team_flag_refuses_a_flag_outside_the_catalogue(cast):
    with pytest.raises(ValidationError, match="Unknown flag"):
        services.set_team_flag(team=cast.team, name="everything", active=True)


def test_set_team_flag_is_idempotent(cast):
    for _ in range(2):
        services.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    assert flags.is_active(cast.team, flags.AUTO_POPULATE_DATASETS)
    for _ in range(2):
        services.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    assert not flags.is_active(cast.team, flags.AUTO_POPULATE_DATASETS)


def test_team_flags_lists_the_catalogue_with_states(cast):
    services.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    states = {flag.name: on for flag, on in flags.team_flags(cast.team)}
    assert states == dict.fromkeys(flags.CATALOGUE, False)


def test_teams_active_answers_the_teams_with_the_flag_on_in_two_queries(
    cast, django_assert_num_queries
):
    other = services.create_team(slug="team-c", name="Team C", owner=UserFactory())
    services.set_team_flag(team=other, name=flags.AUTO_POPULATE_DATASETS, active=False)
    services.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    both = {cast.team.pk, other.pk}
    with django_assert_num_queries(2):
        assert flags.teams_active(both, flags.AUTO_POPULATE_DATASETS) == {cast.team.pk}
    Flag.objects.filter(name=flags.AUTO_POPULATE_DATASETS).update(everyone=True)
    assert flags.teams_active(both, flags.AUTO_POPULATE_DATASETS) == both
    Flag.objects.filter(name=flags.AUTO_POPULATE_DATASETS).update(everyone=False)
    assert flags.teams_active(both, flags.AUTO_POPULATE_DATASETS) == set()
    assert flags.teams_active(both, "no_such_flag") == set()
