"""The log import page of a chatbot."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evalloop.chat import forms
from evalloop.chat.models import Message
from evalloop.chat.tests.factories import ChatbotFactory

GOOD = b"session_id,role,content,created_at\ns-1,human,hi,2024-05-01T10:00:00Z\n"
BAD = GOOD + b"s-1,robot,hi,2024-05-01T10:00:00Z\n"


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")


@pytest.fixture
def url(chatbot):
    return reverse("chat:log-import", kwargs={"slug": chatbot.slug})


def file(content, name="log.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_an_editor_imports_a_file(cast, login, url):
    response = login(cast.editor).post(url, {"file": file(GOOD)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("chat:session-list", args=["support"])
    assert "Imported 1 message (0 already there) into 1 new and 0 updated session." in (
        response.content.decode()
    )
    assert Message.objects.get().content == "hi"


def test_a_bad_file_shows_each_problem_and_writes_nothing(cast, login, url):
    response = login(cast.editor).post(url, {"file": file(BAD)})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in content
    assert "<td>3</td>" in content
    assert not Message.objects.exists()


def test_a_file_name_without_a_format_asks_for_one(cast, login, url):
    response = login(cast.editor).post(url, {"file": file(GOOD, "log.txt")})
    assert response.context["form"].errors["format"]
    response = login(cast.editor).post(url, {"file": file(GOOD, "log.txt"), "format": "csv"})
    assert response.status_code == 302


def test_a_file_over_the_cap_is_refused(cast, login, url, monkeypatch):
    monkeypatch.setattr(forms, "MAX_IMPORT_BYTES", 10)
    response = login(cast.editor).post(url, {"file": file(GOOD)})
    assert response.context["form"].errors["file"]
    assert not Message.objects.exists()


def test_the_viewer_cannot_import(cast, login, url):
    client = login(cast.viewer)
    assert client.get(url).status_code == 403
    assert client.post(url, {"file": file(GOOD)}).status_code == 403
    assert not Message.objects.exists()


def test_the_viewer_sees_no_import_link(cast, login, url, chatbot):
    listing = reverse("chat:session-list", args=["support"])
    assert url not in login(cast.viewer).get(listing).content.decode()
    assert url in login(cast.editor).get(listing).content.decode()


def test_an_outsider_gets_a_404(cast, login, url):
    assert login(cast.outsider).post(url, {"file": file(GOOD)}).status_code == 404
    assert not Message.objects.exists()
