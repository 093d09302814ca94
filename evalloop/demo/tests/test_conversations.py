"""The conversation generator: deterministic for a seed, and every batch is valid traffic."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from evalloop.chat.models import Message, Session
from evalloop.chat.schemas import TrafficBatch
from evalloop.demo import scripts
from evalloop.demo.conversations import CHATBOT, Traffic
from evalloop.teams.permissions import Role

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
BAD = {answer for topic in scripts.TOPICS for answer in topic.bad}


def batches(seed: int, count: int) -> list[dict]:
    traffic = Traffic(seed=seed, chatbot=CHATBOT)
    return [traffic.next_batch(START + timedelta(seconds=3 * n)) for n in range(count)]


def replies(sent: list[dict]) -> list[str]:
    return [
        message["content"]
        for batch in sent
        for entry in batch["sessions"]
        for message in entry["messages"]
        if message["role"] == "ai"
    ]


def test_the_same_seed_writes_the_same_batches():
    assert batches(7, 60) == batches(7, 60)
    assert batches(7, 60) != batches(8, 60)


def test_each_batch_is_valid_traffic():
    for batch in batches(11, 200):
        TrafficBatch.model_validate(batch)
        assert 1 <= len(batch["sessions"]) <= 2


def test_conversations_vary_as_a_demo_needs():
    sent = batches(5, 300)
    entries = [entry for batch in sent for entry in batch["sessions"]]
    tags = Counter(tag for entry in entries for tag in entry["tags"])
    assert {"vip", "refund", "escalated"} <= set(tags)
    ended = {entry["external_id"] for entry in entries if entry.get("ended")}
    started = {entry["external_id"] for entry in entries}
    assert 0 < len(ended) < len(started)  # some end, some are left idle
    bad = sum(reply in BAD for reply in replies(sent))  # bad answers take no values
    assert 0 < bad < len(replies(sent)) / 2  # answered well and badly
    assert {entry["version"] for entry in entries if "version" in entry} == {"v1", "v2", "v3"}


def test_the_bad_share_follows_the_bots_version():
    by_version: dict[str, list[bool]] = {}
    sent = batches(13, 1500)
    versions = {
        e["external_id"]: e["version"] for b in sent for e in b["sessions"] if "version" in e
    }
    for batch in sent:
        for entry in batch["sessions"]:
            for message in entry["messages"][1::2]:  # the replies
                by_version.setdefault(versions[entry["external_id"]], []).append(
                    message["content"] in BAD
                )
    rate = {version: sum(bad) / len(bad) for version, bad in by_version.items()}
    assert rate["v2"] > rate["v1"] > rate["v3"]


@pytest.mark.django_db
def test_the_batches_are_stored_through_the_api(cast, api):
    client = api(Role.EDITOR)
    assert client.post("/chatbots", {"slug": CHATBOT, "name": "Support"}).status_code == 201
    traffic = Traffic(seed=21, chatbot=CHATBOT)
    sent = []
    for n in range(40):
        sent.append(traffic.next_batch(START + timedelta(seconds=3 * n)))
        response = client.post("/traffic", sent[-1])
        assert response.status_code == 200, response.content
    sessions = Session.objects.filter(team=cast.team)
    assert sessions.count() == traffic.counts["sessions"]
    assert Message.objects.filter(session__team=cast.team).count() == traffic.counts["messages"]
    assert sessions.filter(ended_at__isnull=False).count() == traffic.counts["ended"]
    stored = {tag for session in sessions for tag in session.tags.values_list("name", flat=True)}
    wanted = {tag for batch in sent for entry in batch["sessions"] for tag in entry["tags"]}
    assert stored == wanted
    tagged = Message.objects.filter(session__team=cast.team, tags__isnull=False)
    assert tagged.exists()
    # Resending a batch stores nothing twice.
    again = client.post("/traffic", sent[-1]).json()
    assert again["messages_created"] == 0
