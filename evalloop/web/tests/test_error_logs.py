"""A refused or missing page is one log line; a server error keeps its traceback."""

import logging

from django.test import override_settings

from evalloop.teams.permissions import Role


def request_records(caplog):
    return [record for record in caplog.records if record.name == "django.request"]


def assert_one_line(caplog, status, path):
    records = request_records(caplog)
    assert len(records) == 1, [record.getMessage() for record in records]
    (record,) = records
    assert record.status_code == status
    assert record.getMessage().endswith(path)
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_a_viewer_who_may_not_write_is_one_log_line(cast, login, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = login(cast.viewer).post(
        "/settings/members/", {"email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 403
    assert_one_line(caplog, 403, "/settings/members/")
    assert request_records(caplog)[0].getMessage() == (
        "Forbidden (Permission denied): /settings/members/"
    )


@override_settings(DEBUG=False)
def test_an_unknown_page_is_one_log_line(cast, login, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    assert login(cast.editor).get("/no-such-page/").status_code == 404
    assert_one_line(caplog, 404, "/no-such-page/")


def test_an_api_write_by_a_viewer_key_is_one_log_line(api, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = api(Role.VIEWER).post("/datasets", {"name": "x", "mode": "message"})
    assert response.status_code == 403
    assert_one_line(caplog, 403, "/api/v1/datasets")


def test_a_server_error_keeps_its_traceback(cast, login, monkeypatch, caplog):
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr("evalloop.web.views.render", fail)
    client = login(cast.editor)
    client.raise_request_exception = False
    assert client.get("/").status_code == 500
    (record,) = request_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "boom" in str(record.exc_info[1])
    assert "Traceback" in caplog.text
