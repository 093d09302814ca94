import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.test import Client, override_settings


def test_a_viewer_who_may_not_write_gets_the_403_page(cast, login):
    response = login(cast.viewer).post(
        "/settings/members/", {"email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 403
    assert b"Not allowed" in response.content
    assert b"Team A" in response.content


@override_settings(DEBUG=False)
def test_an_unknown_page_gets_the_404_page(cast, login):
    response = login(cast.editor).get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content


@pytest.fixture
def collected_static(settings, tmp_path):
    """Collect static files as `evalloop up` does; WhiteNoise serves them from there."""
    settings.STATIC_ROOT = tmp_path
    storage = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": storage}
    call_command("collectstatic", interactive=False, verbosity=0)


def test_the_favicon_is_served_without_a_login(collected_static, db):
    response = Client().get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0].endswith("favicon.svg")


def test_the_page_script_is_served_from_the_collected_files(collected_static, db):
    response = Client().get(static("js/evalloop.js"))
    assert response.status_code == 200
    assert b"data-submit-on-change" in b"".join(response.streaming_content)


def test_an_error_gets_the_500_page_in_the_layout(cast, login, monkeypatch):
    def fail(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr("evalloop.web.views.render", fail)
    client = login(cast.editor)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b'class="topbar"' in response.content


def test_the_500_page_renders_without_a_request_or_the_database():
    page = render_to_string("500.html")  # no `db` fixture: a query would fail the test
    assert "Something went wrong" in page
    assert 'href="/"' in page


def test_a_form_sent_without_its_csrf_token_gets_the_expired_form_page(cast, login):
    client = login(cast.editor)
    client.handler.enforce_csrf_checks = True
    response = client.post("/settings/members/", {"email": "x@example.com"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content


def test_a_host_it_does_not_answer_to_gets_the_400_page_naming_the_setting(client):
    response = client.get("/login/", HTTP_HOST="evalloop.elsewhere.example")
    assert response.status_code == 400
    assert b"ALLOWED_HOSTS" in response.content
    assert b'class="topbar"' in response.content
