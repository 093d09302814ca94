"""Realistic support conversations, written turn by turn as `POST /api/v1/traffic` batches.

Everything comes from one `random.Random(seed)`: the same seed and the same clock readings
write the same batches. A conversation greets, asks one or two questions of a topic, gets
answers good or bad, and either says thanks and ends, asks for a human (`escalated`), or
is left idle. The bot's version changes every few conversations, each version answering
badly at its own rate, so scores drift and a config's trend has a shape.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evalloop.demo import scripts
from evalloop.demo.scripts import Topic

CHATBOT = "acme-support"  # the slug of the demo's chatbot
# The bot's versions take turns, BLOCK conversations each: (label, share of bad answers).
VERSIONS = (("v1", 0.2), ("v2", 0.55), ("v3", 0.1))
BLOCK = 6
VIP_SHARE = 0.2
ENDED_SHARE = 0.7
ESCALATE_AFTER_BAD = 0.5
# A human waits this long before the bot's reply, in the messages' timestamps.
REPLY_DELAY = timedelta(seconds=1.5)

Payload = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    human: str
    ai: str
    tags: tuple[str, ...] = ()  # on the human message, and on the session from then on


@dataclass
class Conversation:
    external_id: str
    participant: str
    name: str
    channel: str
    version: str
    topic: str
    tags: tuple[str, ...]
    turns: list[Turn]
    ends: bool
    sent: int = 0

    @property
    def done(self) -> bool:
        return self.sent >= len(self.turns)


class _Writer:
    """Writes one conversation's turns from templates, filling them with its own values."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng = rng
        self.values = {
            "name": name,
            "order": f"#{rng.randint(10000, 99999)}",
            "days": str(rng.randint(2, 6)),
            "item": rng.choice(scripts.ITEMS),
            "amount": f"${rng.randint(12, 240)}.{rng.randint(0, 99):02d}",
        }

    def pick(self, templates: tuple[str, ...]) -> str:
        return self.rng.choice(templates).format(**self.values)

    def turns(self, topic: Topic, bad_rate: float) -> tuple[list[Turn], bool]:
        """The greeting and the questions; answer whether a bad answer made it escalate."""
        turns = [Turn(self.pick(scripts.GREETINGS), self.pick(scripts.BOT_GREETINGS))]
        asked = self.rng.sample(topic.questions, k=self.rng.randint(1, 2))
        for index, question in enumerate(asked):
            bad = self.rng.random() < bad_rate
            human = self.pick((question,))
            if index:
                human = f"{self.pick(scripts.FOLLOW_UPS)} {human[0].lower()}{human[1:]}"
            turns.append(Turn(human, self.pick(topic.bad if bad else topic.good), topic.tags))
            if bad and self.rng.random() < ESCALATE_AFTER_BAD:
                turns.append(
                    Turn(
                        self.pick(scripts.ASK_FOR_HUMAN),
                        self.pick(scripts.HANDOVER),
                        ("escalated",),
                    )
                )
                return turns, True
        return turns, False


def plan_conversation(rng: random.Random, *, number: int, run: str) -> Conversation:
    """The whole script of conversation `number`, decided at once."""
    name = rng.choice(scripts.NAMES)
    vip = rng.random() < VIP_SHARE
    topic = rng.choice(scripts.TOPICS)
    version, bad_rate = VERSIONS[(number // BLOCK) % len(VERSIONS)]
    writer = _Writer(rng, name)
    turns, escalated = writer.turns(topic, bad_rate)
    ends = escalated or rng.random() < ENDED_SHARE
    if ends and not escalated:
        turns.append(Turn(writer.pick(scripts.THANKS), writer.pick(scripts.GOODBYES)))
    return Conversation(
        external_id=f"demo-{run}-{number:05d}",
        participant=f"customer-{name.lower()}-{rng.randint(1, 99)}",
        name=name,
        channel=rng.choice(scripts.CHANNELS),
        version=version,
        topic=topic.name,
        tags=("vip",) if vip else (),
        turns=turns,
        ends=ends,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _messages(conversation: Conversation, turn: Turn, now: datetime) -> list[Payload]:
    first = 2 * conversation.sent
    return [
        {
            "external_id": f"m-{first}",
            "role": "human",
            "content": turn.human,
            "created_at": _iso(now - REPLY_DELAY),
            "tags": list(turn.tags),
        },
        {
            "external_id": f"m-{first + 1}",
            "role": "ai",
            "content": turn.ai,
            "created_at": _iso(now),
        },
    ]


def next_turn(conversation: Conversation, *, chatbot: str, now: datetime) -> Payload:
    """The batch entry sending the conversation's next turn (and its end, after the last)."""
    turn = conversation.turns[conversation.sent]
    entry: Payload = {"chatbot": chatbot, "external_id": conversation.external_id}
    if conversation.sent == 0:
        entry |= {
            "participant": conversation.participant,
            "channel": conversation.channel,
            "version": conversation.version,
            "participant_data": {
                "name": conversation.name,
                "plan": "vip" if "vip" in conversation.tags else "standard",
            },
            "state": {"topic": conversation.topic},
        }
    entry["tags"] = [*conversation.tags, *turn.tags] if conversation.sent == 0 else list(turn.tags)
    entry["messages"] = _messages(conversation, turn, now)
    conversation.sent += 1
    if conversation.done and conversation.ends:
        entry["ended"] = True
    return entry


@dataclass
class Traffic:
    """Batches of traffic from a seeded generator; the same seed writes the same batches.

    Each batch may start a conversation (while fewer than `open_at_most` are open) and moves
    up to two open ones on by a turn. `counts` tallies what was sent.
    """

    seed: int
    chatbot: str
    open_at_most: int = 3
    open: list[Conversation] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.run = f"{self.seed & 0xFFFFFFFF:08x}"

    def next_batch(self, now: datetime) -> Payload:
        if len(self.open) < self.open_at_most and (not self.open or self.rng.random() < 0.6):
            number = self.counts["sessions"]
            self.open.append(plan_conversation(self.rng, number=number, run=self.run))
            self.counts["sessions"] += 1
        moving = self.rng.sample(self.open, k=min(2, len(self.open)))
        sessions = [next_turn(each, chatbot=self.chatbot, now=now) for each in moving]
        for finished in (each for each in moving if each.done):
            self.counts["ended" if finished.ends else "left idle"] += 1
        self.counts["messages"] += 2 * len(sessions)
        self.open = [each for each in self.open if not each.done]
        return {"sessions": sessions}
