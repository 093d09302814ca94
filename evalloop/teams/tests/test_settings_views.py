"""Settings overview: what admins manage and what everyone else may read."""

import pytest
from django.urls import reverse

from evalloop.teams import services
from evalloop.teams.permissions import ACTION_LABELS, Action

SETTINGS = reverse("settings")


def test_an_admin_gets_the_overview_with_links_to_manage(cast, login):
    services.create_api_key(team=cast.team, name="k")
    html = login(cast.admin).get(SETTINGS).content.decode()
    assert "Manage members" in html
    assert "<strong>4</strong> members" in html
    assert "<strong>1</strong> active key" in html
    assert "read-only" not in html


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_others_get_a_read_only_overview(cast, login, role):
    html = login(getattr(cast, role)).get(SETTINGS).content.decode()
    assert "read-only for your role" in html
    assert "See members" in html
    assert "Manage members" not in html


def test_the_overview_shows_what_each_role_may_do(cast, login):
    html = login(cast.viewer).get(SETTINGS).content.decode()
    for action in Action:
        assert ACTION_LABELS[action] in html


def test_the_navigation_marks_settings_as_current(cast, login):
    html = login(cast.viewer).get(reverse("settings-members")).content.decode()
    assert f'<a href="{SETTINGS}" aria-current="page">Settings</a>' in html


def test_the_outsider_sees_only_their_own_team(cast, login):
    html = login(cast.outsider).get(SETTINGS).content.decode()
    assert "team-b" in html
    assert "team-a" not in html
