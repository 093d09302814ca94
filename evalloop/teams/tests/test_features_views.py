"""Settings > Features: per-team switches for the flags of the catalogue."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from waffle import flag_is_active

from evalloop.teams import flags, services
from evalloop.teams.flags import AUTO_POPULATE_DATASETS
from evalloop.teams.tests.factories import UserFactory

FEATURES = reverse("settings-features")
AUTO = reverse("settings-feature", args=[AUTO_POPULATE_DATASETS])


def waffle_says(team, user):
    request = RequestFactory().get("/")
    request.user, request.team = user, team
    return flag_is_active(request, AUTO_POPULATE_DATASETS)


def test_every_catalogue_flag_is_listed_with_its_state(cast, login):
    html = login(cast.viewer).get(FEATURES).content.decode()
    for flag in flags.CATALOGUE.values():
        assert flag.label in html
    assert ">on</span>" in html


def test_the_viewer_reads_the_switches_without_controls(cast, login):
    assert AUTO not in login(cast.viewer).get(FEATURES).content.decode()


def test_an_admin_switches_a_flag_off_and_on(cast, login):
    client = login(cast.admin)
    assert client.post(AUTO, {}).status_code == 302
    assert not flags.is_active(cast.team, AUTO_POPULATE_DATASETS)
    assert not waffle_says(cast.team, cast.admin)
    client.post(AUTO, {"active": "on"})
    assert flags.is_active(cast.team, AUTO_POPULATE_DATASETS)
    assert waffle_says(cast.team, cast.admin)


def test_switching_one_team_leaves_the_other_alone(cast, login):
    login(cast.admin).post(AUTO, {})
    assert flags.is_active(cast.other_team, AUTO_POPULATE_DATASETS)
    assert waffle_says(cast.other_team, cast.outsider)


def test_a_superuser_does_not_override_the_teams_switch(cast, login):
    login(cast.admin).post(AUTO, {})
    assert not waffle_says(cast.team, UserFactory(is_superuser=True))


def test_htmx_gets_the_row_back(cast, login):
    response = login(cast.admin).post(AUTO, {}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="flag-{AUTO_POPULATE_DATASETS}"')
    assert "Switch on" in html
    assert "<html" not in html


def test_an_unknown_flag_is_404(cast, login):
    url = reverse("settings-feature", args=["no_such_flag"])
    assert login(cast.admin).post(url, {"active": "on"}).status_code == 404


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_switch(cast, login, role):
    assert login(getattr(cast, role)).post(AUTO, {}).status_code == 403
    assert flags.is_active(cast.team, AUTO_POPULATE_DATASETS)


def test_the_outsider_switches_only_their_own_team(cast, login):
    login(cast.outsider).post(AUTO, {})
    assert flags.is_active(cast.team, AUTO_POPULATE_DATASETS)
    assert not flags.is_active(cast.other_team, AUTO_POPULATE_DATASETS)


def test_new_teams_start_with_auto_population_on_by_default(db):
    team = services.create_team(slug="t", name="T", owner=UserFactory())
    assert flags.is_active(team, AUTO_POPULATE_DATASETS)


def test_new_teams_start_with_auto_population_off_when_the_setting_says_so(db, settings):
    settings.EVALLOOP_AUTO_POPULATE_DEFAULT = False
    owner = UserFactory()
    team = services.create_team(slug="t", name="T", owner=owner)
    assert not flags.is_active(team, AUTO_POPULATE_DATASETS)
    assert not waffle_says(team, owner)
