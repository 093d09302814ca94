"""Hostile input answers a 4xx naming where it is wrong, writes nothing, on both databases.

NUL characters, lone surrogates, NaN and Infinity, JSON nested too deep and integers beyond
64 bits, through every way values come in: API bodies, query strings and paths, headers and
cookies, web forms, CSV cells and log imports.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import Client

from evalloop.chat import services as chat_services
from evalloop.chat.log_import import check_log
from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.datasets import services as dataset_services
from evalloop.datasets.models import Dataset, Row
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.teams import services as team_services
from evalloop.teams.models import Membership
from evalloop.teams.permissions import Role

HUGE = 2**70
DEEP = '{"a": ' * 40 + "1" + "}" * 40


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")


@pytest.fixture
def dataset(cast):
    return DatasetFactory(team=cast.team, name="Golden")


@pytest.fixture
def editor(api):
    return api(Role.EDITOR)


def raw_post(client, path, text, method="post"):
    """Send `text` as the JSON body verbatim (so it may hold escapes json.dumps never writes)."""
    send = getattr(client.client, method)
    return send(f"/api/v1{path}", text, content_type="application/json")


def detail_text(response) -> str:
    return json.dumps(response.json()["detail"])


def traffic(content_json: str = '"hi"', extra: str = "") -> str:
    return (
        '{"sessions": [{"chatbot": "support", "external_id": "s-1"' + extra + ', "messages": ['
        '{"external_id": "m-1", "role": "human", "content": ' + content_json + "}]}]}"
    )


# API bodies


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (traffic('"a\\u0000b"'), "content"),
        (traffic('"\\ud800"'), "column"),  # the fast path's parser names the position
        (traffic(extra=', "participant": "p\\u0000"'), "participant"),
        (traffic(extra=', "state": {"k\\u0000": 1}'), "state"),
        (traffic(extra=', "state": {"score": NaN}'), "state"),
        (traffic(extra=', "state": {"score": Infinity}'), "state"),
        (traffic(extra=', "participant_data": {"n": 1e400}'), "participant_data"),
        (
            traffic(extra=', "participant_data": {"n": 123456789012345678901234567890}'),
            "participant_data",
        ),
        (traffic(extra=f', "state": {DEEP}'), "state"),
        (traffic(extra=', "tags": ["vip\\u0000"]'), "tags"),
    ],
)
def test_traffic_with_an_unstorable_value_is_a_422_naming_the_field(editor, chatbot, body, field):
    response = raw_post(editor, "/traffic", body)
    assert response.status_code == 422, response.content
    assert field in detail_text(response)
    assert not Session.objects.exists()
    assert not Message.objects.exists()


def test_json_nested_past_the_parser_is_a_4xx_not_a_crash(editor, chatbot):
    response = raw_post(editor, "/traffic", "[" * 100_000 + "]" * 100_000)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert not Session.objects.exists()


def test_dataset_bodies_refuse_unstorable_values(editor, dataset):
    path = f"/datasets/{dataset.pk}/rows"
    for body in ('{"input": "a\\u0000"}', '{"context": {"x": NaN}}', f'{{"state": {DEEP}}}'):
        response = raw_post(editor, path, body)
        assert response.status_code == 422, body
    name = raw_post(editor, "/datasets", '{"name": "\\ud800", "mode": "message"}')
    assert name.status_code == 422
    assert "name" in detail_text(name)
    assert not Row.objects.exists()
    assert Dataset.objects.count() == 1


def test_ids_beyond_64_bits_are_422_in_bodies_and_404_in_paths(editor, dataset, chatbot):
    imported = editor.post(f"/datasets/{dataset.pk}/import", {"session_ids": [HUGE]})
    assert imported.status_code == 422
    assert "session_ids" in detail_text(imported)
    copied = editor.post(f"/datasets/{dataset.pk}/copy", {"target": HUGE})
    assert copied.status_code == 422
    assert editor.get(f"/datasets/{HUGE}").status_code == 404
    assert editor.get(f"/datasets/{dataset.pk}/rows/{HUGE}").status_code == 404
    assert editor.patch(f"/datasets/{HUGE}", {"name": "x"}).status_code == 404


def test_a_filter_in_the_query_string_is_checked_like_a_body(editor, chatbot):
    path = "/chatbots/support/sessions"
    for text in (
        '[{"field": "message_content", "op": "contains", "value": "a\\u0000"}]',
        '[{"field": "message_count", "op": "gt", "value": NaN}]',
        '[{"field": "message_count", "op": "gt", "value": 1e400}]',
        '[{"field": "message_count", "op": "gt", "value": 99999999999999999999999}]',
        "[" * 100 + "]" * 100,
    ):
        response = editor.get(path, filter=text)
        assert response.status_code == 422, text[:80]
        assert "filter" in detail_text(response)


def test_null_for_a_field_that_cannot_be_empty_is_refused_in_a_patch(editor, dataset):
    renamed = editor.patch(f"/datasets/{dataset.pk}", {"name": None})
    assert renamed.status_code == 422
    assert "name" in detail_text(renamed)
    row = RowFactory(dataset=dataset, input="keep")
    edited = editor.patch(f"/datasets/{dataset.pk}/rows/{row.pk}", {"input": None})
    assert edited.status_code == 422
    row.refresh_from_db()
    assert (row.input, row.edited_at) == ("keep", None)
    dataset.refresh_from_db()
    assert dataset.name == "Golden"


def test_a_multipart_body_without_a_boundary_is_a_400(editor, dataset, cast, login):
    response = editor.client.post(
        f"/api/v1/datasets/{dataset.pk}/csv", b"--x\r\n", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "multipart" in detail_text(response)
    page = login(cast.editor).post(
        f"/datasets/{dataset.pk}/csv/upload/", b"--x\r\n", content_type="multipart/form-data"
    )
    assert page.status_code == 400


def test_an_api_form_body_with_too_many_fields_is_a_400_in_json(editor, dataset):
    body = "&".join(f"f{n}=v" for n in range(10_001))
    response = editor.client.post(
        f"/api/v1/datasets/{dataset.pk}/csv", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_an_api_form_body_too_large_is_a_413_in_json(editor, dataset, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = "f=" + "x" * 2048
    response = editor.client.post(
        f"/api/v1/datasets/{dataset.pk}/csv", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response.json()["detail"][0]["loc"] == ["body"]


# URLs, headers, cookies


def test_a_nul_in_a_path_query_or_header_is_a_400(editor, chatbot, cast):
    session = editor.get("/chatbots/support/sessions/a%00b")
    assert session.status_code == 400
    assert session.json()["detail"][0]["loc"] == ["path"]
    listed = editor.get("/datasets", cursor="a\x00")
    assert listed.status_code == 400
    assert listed.json()["detail"][0]["loc"] == ["query", "cursor"]
    keyed = Client(HTTP_AUTHORIZATION="Bearer ev_\x00").get("/api/v1/team")
    assert keyed.status_code == 400


def test_a_nul_in_a_page_url_is_a_400_page_saying_why_without_a_traceback(cast, login, caplog):
    response = login(cast.editor).get("/datasets/", {"q": "a\x00"})
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert all(record.exc_info is None for record in caplog.records)


def test_a_tampered_session_cookie_logs_out_instead_of_failing(cast, login):
    client = login(cast.editor)
    client.cookies["sessionid"] = '"abcdefgh\\000ijk"'
    response = client.get("/datasets/")
    assert response.status_code == 302  # to the login page


def test_web_pages_answer_404_for_ids_beyond_64_bits(cast, login):
    client = login(cast.editor)
    assert client.get(f"/datasets/{HUGE}/").status_code == 404
    assert client.get("/datasets/99999999999999999999/").status_code == 404


def test_web_forms_refuse_unstorable_values(cast, login, dataset):
    client = login(cast.editor)
    switched = client.post("/teams/switch/", {"team": "team-a\x00"})
    assert switched.status_code == 400
    row = client.post(
        f"/datasets/{dataset.pk}/rows/new/",
        {
            "input": "q",
            "history": "[]",
            "context": '{"x": NaN}',
            "state": DEEP,
            "participant_data": "{}",
        },
    )
    assert row.status_code == 200
    errors = row.context["form"].errors
    assert set(errors) == {"context", "state"}
    ticked = client.post(
        f"/datasets/{dataset.pk}/copy/", {"target": dataset.pk, "row": [str(HUGE)]}
    )
    assert ticked.status_code in (200, 302)
    assert not Row.objects.exists()


# Files


def test_csv_cells_with_unstorable_values_are_reported_per_row(editor, dataset):
    text = (
        "input,context.x,history\n"
        "ok,1,[]\n"
        "a\x01b,NaN,[]\n"  # NaN in a JSON column is text, which is fine
        f'c,"{DEEP.replace(chr(34), chr(34) * 2)}",[]\n'
        f'd,1,"[{{""role"": ""human"", ""content"": ""\\u0000""}}]"\n'
        f"{HUGE},1,[]\n"
    )
    upload = SimpleUploadedFile("rows.csv", text.encode(), "text/csv")
    response = editor.client.post(f"/api/v1/datasets/{dataset.pk}/csv", {"file": upload})
    assert response.status_code == 422, response.content
    problems = detail_text(response)
    assert "context.x" in problems
    assert "history" in problems
    assert not Row.objects.exists()


def upload(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def test_a_log_import_reports_unstorable_values_by_line(chatbot):
    row = '{"session_id": "s", "role": "human", "created_at": "2025-01-01T00:00:00Z", '
    lines = [
        row + '"content": "a\\u0000"}',
        row + '"content": NaN}',
        DEEP,
        "[" * 100_000 + "]" * 100_000,
    ]
    report = check_log(file=upload("\n".join(lines)), fmt="jsonl")
    assert [error.line for error in report.errors] == [1, 2, 3, 4]
    csv_report = check_log(
        file=upload(
            "session_id,role,content,created_at\ns,human,\ud800,2025-01-01T00:00:00Z\n".encode(
                "utf-8", "surrogatepass"
            ).decode("utf-8", "replace")
        ),
        fmt="csv",
    )
    assert csv_report.errors == []  # the file's bad bytes read as U+FFFD, which is storable
    assert not Message.objects.exists()


# Objects deleted meanwhile


def test_updates_of_an_object_deleted_meanwhile_answer_404(cast, dataset, chatbot):
    row = RowFactory(dataset=dataset)
    Row.objects.filter(pk=row.pk).delete()
    with pytest.raises(Http404):
        dataset_services.edit_row(row=row, changes={"input": "x"})
    Dataset.objects.filter(pk=dataset.pk).delete()
    with pytest.raises(Http404):
        dataset_services.update_dataset(dataset=dataset, name="Renamed")
    with pytest.raises(Http404):
        dataset_services.add_row(dataset=dataset, values={"input": "x"})
    assert not Dataset.objects.exists()
    assert not Row.objects.exists()
    session = SessionFactory(chatbot=chatbot)
    Session.objects.filter(pk=session.pk).delete()
    with pytest.raises(Http404):
        chat_services.end_session(session=session)
    membership = Membership.objects.get(user=cast.viewer)
    Membership.objects.filter(pk=membership.pk).delete()
    with pytest.raises(Http404):
        team_services.change_role(membership=membership, role=Role.EDITOR)
    assert not Membership.objects.filter(user=cast.viewer).exists()
