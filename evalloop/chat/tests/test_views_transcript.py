"""The transcript page of a session, and its tag controls."""

import pytest
from django.urls import reverse

from evalloop.chat import services
from evalloop.chat.ingest import ingest_traffic
from evalloop.chat.schemas import TrafficBatch
from evalloop.chat.tests.factories import ChatbotFactory, MessageFactory, SessionFactory

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support", name="Support")


@pytest.fixture
def session(chatbot):
    session = SessionFactory(chatbot=chatbot, external_id="s-1", state={"step": 2})
    services.add_message(session=session, role="human", content="Where is my parcel?")
    services.add_message(session=session, role="ai", content="On its way.")
    return session


@pytest.fixture
def message(session):
    return session.messages.get(role="ai")


def page(session):
    return reverse("chat:transcript", kwargs={"slug": session.chatbot.slug, "pk": session.pk})


def session_tags_url(session):
    return reverse("chat:session-tags", kwargs={"slug": session.chatbot.slug, "pk": session.pk})


def message_tags_url(message):
    kwargs = {"slug": message.session.chatbot.slug, "pk": message.session_id}
    return reverse("chat:message-tags", kwargs={**kwargs, "message_pk": message.pk})


def test_it_shows_the_messages_with_roles_and_tags(cast, login, session, message):
    services.change_message_tags(message=message, add=["late"])
    services.change_session_tags(session=session, add=["vip"])
    response = login(cast.viewer).get(page(session))
    content = response.content.decode()
    assert response.status_code == 200
    assert content.index("Where is my parcel?") < content.index("On its way.")
    assert "Human" in content
    assert "AI" in content
    assert '<span class="pill"><span class="tag-name" title="late">late</span>' in content
    assert '<span class="pill"><span class="tag-name" title="vip">vip</span>' in content
    assert "&quot;step&quot;: 2" in content


def test_a_long_tag_is_cut_short_with_its_full_name_in_the_title(cast, login, session, message):
    long = "escalated-to-the-second-line-because-" + "x" * 60
    services.change_session_tags(session=session, add=[long])
    services.change_message_tags(message=message, add=[long])
    content = login(cast.editor).get(page(session)).content.decode()
    assert content.count(f'<span class="tag-name" title="{long}">{long}</span>') == 2
    assert content.count(f'aria-label="Remove tag {long}"') == 2  # the button stays outside


def test_the_viewer_sees_no_edit_controls(cast, login, session):
    content = login(cast.viewer).get(page(session)).content.decode()
    assert session_tags_url(session) not in content
    assert 'name="add"' not in content


def test_the_editor_sees_the_tag_controls(cast, login, session, message):
    content = login(cast.editor).get(page(session)).content.decode()
    assert f'hx-post="{session_tags_url(session)}"' in content
    assert f'hx-post="{message_tags_url(message)}"' in content


def test_an_editor_tags_a_session_with_htmx(cast, login, session):
    response = login(cast.editor).post(
        session_tags_url(session), {"add": "vip"}, HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="session-tags"')
    assert "vip" in content
    assert "<html" not in content
    assert [t.name for t in session.tags.all()] == ["vip"]


def test_an_editor_untags_a_session_without_htmx(cast, login, session):
    services.change_session_tags(session=session, add=["vip"])
    response = login(cast.editor).post(session_tags_url(session), {"remove": "vip"})
    assert response.status_code == 302
    assert response["Location"] == page(session)
    assert not session.tags.exists()


def test_a_bad_tag_is_shown_and_changes_nothing(cast, login, session):
    response = login(cast.editor).post(
        session_tags_url(session), {"add": "x" * 101}, HTTP_HX_REQUEST="true"
    )
    assert 'role="alert"' in response.content.decode()
    assert not session.tags.exists()


def test_an_editor_tags_a_message_with_htmx(cast, login, message):
    response = login(cast.editor).post(
        message_tags_url(message), {"add": "late"}, HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    opening = f'<div class="tag-box msg-tags" id="message-{message.pk}-tags"'
    assert content.lstrip().startswith(opening)
    assert "late" in content
    assert [t.name for t in message.tags.all()] == ["late"]


def test_an_editor_untags_a_message_without_htmx(cast, login, message):
    services.change_message_tags(message=message, add=["late"])
    response = login(cast.editor).post(message_tags_url(message), {"remove": "late"})
    assert response.status_code == 302
    assert not message.tags.exists()


def test_the_viewer_cannot_tag(cast, login, session, message):
    client = login(cast.viewer)
    assert client.post(session_tags_url(session), {"add": "vip"}).status_code == 403
    assert client.post(message_tags_url(message), {"add": "vip"}).status_code == 403
    assert not session.tags.exists()
    assert not message.tags.exists()


def test_an_outsider_gets_a_404(cast, login, session, message):
    client = login(cast.outsider)
    assert client.get(page(session)).status_code == 404
    assert client.post(session_tags_url(session), {"add": "x"}).status_code == 404
    assert client.post(message_tags_url(message), {"add": "x"}).status_code == 404
    assert not session.tags.exists()


def test_a_message_of_another_session_is_a_404(cast, login, session):
    other = MessageFactory(session=SessionFactory(chatbot=session.chatbot))
    url = reverse(
        "chat:message-tags",
        kwargs={"slug": "support", "pk": session.pk, "message_pk": other.pk},
    )
    assert login(cast.editor).post(url, {"add": "x"}).status_code == 404


def test_chat_content_is_escaped_everywhere(cast, login, chatbot):
    batch = {
        "sessions": [
            {
                "chatbot": "support",
                "external_id": SCRIPT,
                "participant": SCRIPT,
                "state": {"x": SCRIPT},
                "tags": [SCRIPT],
                "messages": [{"role": "human", "content": SCRIPT, "tags": [SCRIPT]}],
            }
        ]
    }
    ingest_traffic(team=cast.team, batch=TrafficBatch.model_validate(batch))
    client = login(cast.editor)
    listing = client.get(reverse("chat:session-list", kwargs={"slug": "support"}))
    transcript = client.get(page(chatbot.sessions.get()))
    for response in (listing, transcript):
        content = response.content.decode()
        assert SCRIPT not in content
        assert "&lt;script&gt;" in content
