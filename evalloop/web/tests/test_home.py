"""The home page: an overview of the current team."""

from django.urls import reverse

from evalloop.notifications.models import Kind
from evalloop.notifications.services import notify
from evalloop.teams import flags, services
from evalloop.teams.permissions import Action

HOME = reverse("home")


def test_it_shows_the_team_and_links_to_every_section(cast, login):
    html = login(cast.viewer).get(HOME).content.decode()
    assert "<h1>Team A</h1>" in html
    for name in ("chat:chatbot-list", "datasets:dataset-list", "notifications:inbox", "settings"):
        assert f'href="{reverse(name)}"' in html


def test_it_counts_members_by_role(cast, login):
    html = login(cast.viewer).get(HOME).content.decode()
    for text in ("1 owner", "1 admin", "1 editor", "1 viewer"):
        assert text in html


def test_it_asks_admins_for_an_api_key_until_one_exists(cast, login):
    client = login(cast.admin)
    assert f'href="{reverse("settings-api-keys")}"' in client.get(HOME).content.decode()
    services.create_api_key(team=cast.team, name="k")
    assert "1 active key." in client.get(HOME).content.decode()


def test_a_viewer_is_told_whom_to_ask_for_a_key(cast, login):
    assert "Ask an admin" in login(cast.viewer).get(HOME).content.decode()


def test_it_shows_the_latest_notifications_escaped(cast, login):
    notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title="<i>hello</i>")
    html = login(cast.viewer).get(HOME).content.decode()
    assert "&lt;i&gt;hello&lt;/i&gt;" in html


def test_it_says_whether_auto_population_is_on(cast, login):
    client = login(cast.viewer)
    assert "auto-population rules fill them" in client.get(HOME).content.decode()
    services.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    assert "auto-population rules fill them" not in client.get(HOME).content.decode()


def test_the_outsider_sees_only_their_own_team(cast, login):
    notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title="secret of team a")
    html = login(cast.outsider).get(HOME).content.decode()
    assert "<h1>Team B</h1>" in html
    assert "secret of team a" not in html
    assert "Team A" not in html


def test_the_page_costs_a_fixed_number_of_queries(cast, login, django_assert_num_queries):
    for number in range(10):
        notify(team=cast.team, action=Action.VIEW, kind=Kind.INFO, title=f"n{number}")
    client = login(cast.viewer)
    # shell (5) + recent notifications, role counts, key count, flag (2)
    with django_assert_num_queries(10):
        assert client.get(HOME).status_code == 200
