"""POST /api/v1/traffic: batch ingestion over HTTP."""

import json

import pytest
from django.test import Client, override_settings

from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.teams import services as team_services
from evalloop.teams.permissions import Role

BATCH = {
    "sessions": [
        {
            "chatbot": "support",
            "external_id": "s-1",
            "participant": "p-9",
            "tags": ["vip"],
            "messages": [
                {"external_id": "m-1", "role": "human", "content": "hi"},
                {"external_id": "m-2", "role": "ai", "content": "hello"},
            ],
        }
    ]
}


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")


def test_it_ingests_a_batch_and_answers_a_summary(api, chatbot):
    response = api(Role.EDITOR).post("/traffic", BATCH)
    assert response.status_code == 200
    assert response.json() == {
        "sessions_created": 1,
        "sessions_updated": 0,
        "messages_created": 2,
        "messages_skipped": 0,
    }
    assert Session.objects.get().message_count == 2


def test_sending_it_again_skips_every_message(api, chatbot):
    client = api(Role.EDITOR)
    client.post("/traffic", BATCH)
    response = client.post("/traffic", BATCH)
    assert response.json() == {
        "sessions_created": 0,
        "sessions_updated": 0,
        "messages_created": 0,
        "messages_skipped": 2,
    }


def test_an_invalid_item_is_a_422_naming_its_place_and_writes_nothing(api, chatbot):
    batch = json.loads(json.dumps(BATCH))
    batch["sessions"].append({"chatbot": "support", "external_id": "s-2", "messages": [{}]})
    batch["sessions"][1]["messages"][0]["role"] = "robot"
    response = api(Role.EDITOR).post("/traffic", batch)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sessions", 1, "messages", 0, "role"]
    assert not Session.objects.exists()


def test_an_unknown_chatbot_is_a_422_naming_its_index(api, chatbot):
    batch = {"sessions": [*BATCH["sessions"], {"chatbot": "nope", "external_id": "s-2"}]}
    response = api(Role.EDITOR).post("/traffic", batch)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sessions", 1, "chatbot"]
    assert not Session.objects.exists()


def test_a_body_that_is_not_json_is_a_422(api, chatbot):
    response = api(Role.EDITOR).client.post(
        "/api/v1/traffic", "{nope", content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_a_body_over_the_limit_is_a_413(api, chatbot):
    batch = {"sessions": [{**BATCH["sessions"][0], "state": {"blob": "x" * 4096}}]}
    response = api(Role.EDITOR).post("/traffic", batch)
    assert response.status_code == 413
    assert "detail" in response.json()
    assert not Session.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_a_declared_length_over_the_limit_is_a_413_before_reading(cast, chatbot):
    key = team_services.create_api_key(team=cast.team, name="k").plaintext
    response = Client().generic(
        "POST",
        "/api/v1/traffic",
        json.dumps(BATCH),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        CONTENT_LENGTH="999999999",
    )
    assert response.status_code == 413


def test_a_chunked_body_is_refused_with_411(cast, chatbot):
    key = team_services.create_api_key(team=cast.team, name="k").plaintext
    response = Client().post(
        "/api/v1/traffic",
        json.dumps(BATCH),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    assert not Session.objects.exists()


def test_the_viewer_cannot_ingest(api, chatbot):
    response = api(Role.VIEWER).post("/traffic", BATCH)
    assert response.status_code == 403
    assert not Session.objects.exists()


def test_another_teams_key_cannot_write_to_this_teams_chatbot(cast, api, chatbot):
    response = api(Role.EDITOR, team=cast.other_team).post("/traffic", BATCH)
    assert response.status_code == 422
    assert not Session.objects.exists()


def test_a_missing_key_is_401(client, chatbot):
    response = client.post("/api/v1/traffic", BATCH, content_type="application/json")
    assert response.status_code == 401


def test_chat_content_is_stored_as_sent(api, chatbot):
    batch = json.loads(json.dumps(BATCH))
    batch["sessions"][0]["messages"][0]["content"] = "<script>alert(1)</script>"
    api(Role.EDITOR).post("/traffic", batch)
    assert Message.objects.filter(content="<script>alert(1)</script>").exists()


def test_the_batch_body_is_documented_in_the_schema(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    body = schema["paths"]["/api/v1/traffic"]["post"]["requestBody"]
    sessions = body["content"]["application/json"]["schema"]["properties"]["sessions"]
    assert "messages" in sessions["items"]["properties"]


def test_a_busy_database_is_a_503_with_retry_after_and_writes_nothing(api, chatbot, monkeypatch):
    from django.db import OperationalError

    from evalloop.chat import ingest
    from evalloop.lib import busy

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    # Late in the batch: sessions and messages are already inserted when the lock is lost.
    monkeypatch.setattr(ingest._Ingestion, "_update_existing", locked)
    response = api(Role.EDITOR).post("/traffic", BATCH)
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json() == {"detail": [{"loc": [], "msg": busy.MESSAGE}]}
    assert not Session.objects.exists()
    assert not Message.objects.exists()


def test_a_batch_over_the_message_limit_is_a_422_naming_it(api, chatbot, monkeypatch):
    from evalloop.chat import ingest

    monkeypatch.setattr(ingest, "MAX_MESSAGES_PER_BATCH", 1)
    response = api(Role.EDITOR).post("/traffic", BATCH)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "sessions"],
            "msg": "At most 1 messages per batch, this one has 2: send it in smaller batches.",
        }
    ]
    assert not Session.objects.exists()


def test_a_batch_over_the_session_limit_is_a_422_naming_it(api, chatbot):
    from evalloop.chat.schemas import MAX_SESSIONS_PER_BATCH

    sessions = [
        {"chatbot": "support", "external_id": f"s-{n}"} for n in range(MAX_SESSIONS_PER_BATCH + 1)
    ]
    response = api(Role.EDITOR).post("/traffic", {"sessions": sessions})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sessions"]
    assert "1000" in response.json()["detail"][0]["msg"]
    assert not Session.objects.exists()


def test_a_batch_over_the_tag_limit_is_a_422_naming_it(api, chatbot, monkeypatch):
    from evalloop.chat import ingest

    monkeypatch.setattr(ingest, "MAX_TAGS_PER_BATCH", 2)
    batch = {"sessions": [{**BATCH["sessions"][0], "tags": ["vip", "paid"]}]}
    batch["sessions"][0]["messages"] = [{"external_id": "m-1", "role": "human", "tags": ["x"]}]
    response = api(Role.EDITOR).post("/traffic", batch)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"][-1] == "sessions"
    assert problem["msg"] == "At most 2 tags per batch, this one has 3: send it in smaller batches."
    assert not Session.objects.exists()


@pytest.mark.parametrize("where", ["session", "message"])
def test_more_than_a_hundred_tags_on_one_item_is_a_422(api, chatbot, where):
    tags = [f"t-{n}" for n in range(101)]
    message: dict[str, object] = {"role": "human"}
    session: dict[str, object] = {"chatbot": "support", "external_id": "s-1", "messages": [message]}
    (session if where == "session" else message)["tags"] = tags
    response = api(Role.EDITOR).post("/traffic", {"sessions": [session]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "tags"
    assert not Session.objects.exists()
