"""What the demo team evaluates with: its datasets, rules, evaluators and configs.

Each piece is found by its name and made only when missing, through the services, so seeding
again after a restart (or after someone deleted one piece) adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from evalloop.autopopulate import services as rules
from evalloop.autopopulate.models import Completion, Rule
from evalloop.chat import services as chat
from evalloop.chat.models import Chatbot
from evalloop.datasets import services as datasets
from evalloop.datasets.models import Dataset, Mode
from evalloop.demo.conversations import CHATBOT
from evalloop.evaluators import services as evaluators
from evalloop.evaluators.models import Evaluator
from evalloop.runs import services as runs
from evalloop.runs.models import Config
from evalloop.teams.models import Team, User

REPLIES = "Support replies"
CONVERSATIONS = "Support conversations"
# Most traffic, not all: the sample rate shows on the rule, and its ledger explains the rest.
SAMPLE_RATE = 0.9
IDLE_MINUTES = 1
MINUTES_BETWEEN_RUNS = 1
START_BEFORE = timedelta(minutes=1)
JUDGE = "Reply quality (LLM judge)"

HELPFULNESS = """import re

VAGUE = ("i don't know", "not sure", "can't help", "cannot help", "contact support")


def evaluate(row):
    reply = row["output"].lower()
    concrete = bool(re.search(r"#[0-9]+|https?://|[0-9]+ (business )?days", reply))
    vague = any(phrase in reply for phrase in VAGUE)
    words = len(reply.split())
    score = 0.2 + 0.4 * concrete + 0.2 * (not vague) + 0.2 * (8 <= words <= 80)
    if not row["input"]:
        score = 1.0  # the bot's greeting answers no question
    return {"score": round(score, 2), "concrete": concrete}
"""

OUTCOME = """def evaluate(row):
    turns = row["history"]
    humans = [t["content"].lower() for t in turns if t["role"] == "human"]
    escalated = any("person" in text or "human" in text for text in humans)
    thanked = bool(humans) and any(w in humans[-1] for w in ("thank", "bye"))
    return {"turns": len(turns), "escalated": escalated, "resolved": thanked and not escalated}
"""

JUDGE_PROMPT = """You review the replies of the customer support assistant of an online shop.

Conversation so far:
{{history}}

The customer ({{participant_data.plan}} plan) wrote:
{{input}}

The assistant replied:
{{output}}

Score the reply from 1 (useless or wrong) to 5 (specific, correct and kind), say whether it
is good enough to send, and give the main reason in one sentence."""


def _boolean(name: str) -> dict[str, str]:
    return {"name": name, "type": "boolean"}


EVALUATORS: tuple[dict[str, Any], ...] = (
    {
        "name": "Vague or deflecting reply",
        "kind": "contains",
        "params": {"words": ["I don't know", "not sure", "can't help", "contact support"]},
        "description": "Matches replies that answer nothing; its rate should stay low.",
    },
    {
        "name": "Gives an order number or a link",
        "kind": "regex",
        "params": {"pattern": r"#[0-9]{5}|https?://\S+"},
        "description": "Specific replies name the order or link to where to act.",
    },
    {
        "name": "Reply length",
        "kind": "length",
        "params": {"unit": "words", "min": 8, "max": 80},
        "description": "Between 8 and 80 words: long enough to help, short enough to read.",
    },
    {
        "name": "Helpfulness (heuristic)",
        "kind": "python",
        "params": {"code": HELPFULNESS},
        "output_schema": {
            "fields": [
                {"name": "score", "type": "number", "min": 0, "max": 1},
                _boolean("concrete"),
            ]
        },
        "description": "A score from 0 to 1 from concreteness, vagueness and length.",
    },
    {
        "name": "Conversation outcome",
        "kind": "python",
        "params": {"code": OUTCOME},
        "output_schema": {
            "fields": [
                {"name": "turns", "type": "number", "min": 0},
                _boolean("escalated"),
                _boolean("resolved"),
            ]
        },
        "description": "Whether a whole conversation ended in thanks or asked for a human.",
    },
    {
        "name": JUDGE,
        "kind": "llm_judge",
        "params": {"model": "gpt-4o-mini", "prompt": JUDGE_PROMPT},
        "output_schema": {
            "fields": [
                {"name": "score", "type": "number", "min": 1, "max": 5},
                {"name": "verdict", "type": "category", "choices": ["good", "bad"]},
                {"name": "reason", "type": "text"},
            ]
        },
        "description": "Runs once a provider is chosen: see the notice on its page.",
    },
)


@dataclass(frozen=True)
class ConfigPlan:
    name: str
    dataset: str
    evaluators: tuple[str, ...]
    auto_run: bool


CONFIGS = (
    ConfigPlan(
        "Reply checks",
        REPLIES,
        (
            "Vague or deflecting reply",
            "Gives an order number or a link",
            "Reply length",
            "Helpfulness (heuristic)",
        ),
        auto_run=True,
    ),
    ConfigPlan("Conversation outcomes", CONVERSATIONS, ("Conversation outcome",), auto_run=True),
    # LLM calls cost money: this one runs when someone asks, never on its own (docs/demo.md).
    ConfigPlan(JUDGE, REPLIES, (JUDGE,), auto_run=False),
)


def chatbot(team: Team) -> Chatbot:
    found = Chatbot.objects.for_team(team).filter(slug=CHATBOT).first()
    return found or chat.create_chatbot(team=team, slug=CHATBOT, name="Acme Shop support")


def _dataset(team: Team, name: str, mode: str, description: str) -> Dataset:
    found = Dataset.objects.for_team(team).filter(name=name).first()
    return found or datasets.create_dataset(
        team=team, name=name, mode=mode, description=description
    )


def _rule(dataset: Dataset, bot: Chatbot, completion: str) -> None:
    if not Rule.objects.filter(dataset=dataset, chatbot=bot).exists():
        rules.create_rule(
            dataset=dataset,
            chatbot=bot,
            completion=completion,
            idle_minutes=IDLE_MINUTES,
            sample_rate=SAMPLE_RATE,
            # A session starts at its first question, stamped before the reply is sent: a
            # conversation the simulator starts as soon as the rule exists is not too early.
            start_at=timezone.now() - START_BEFORE,
        )


def _evaluator(team: Team, spec: dict[str, Any]) -> Evaluator:
    found = Evaluator.objects.for_team(team).filter(name=spec["name"]).first()
    return found or evaluators.create_evaluator(team=team, **spec)


def _config(team: Team, plan: ConfigPlan, owner: User, by_name: dict[str, Evaluator]) -> None:
    if Config.objects.for_team(team).filter(name=plan.name).exists():
        return
    runs.create_config(
        team=team,
        name=plan.name,
        dataset=Dataset.objects.for_team(team).get(name=plan.dataset),
        evaluators=[by_name[name] for name in plan.evaluators],
        auto_run_on_append=plan.auto_run,
        min_minutes_between_runs=MINUTES_BETWEEN_RUNS if plan.auto_run else None,
        created_by=owner,
    )


def set_up(*, team: Team, owner: User) -> None:
    """Make whatever of the demo's set-up the team lacks."""
    bot = chatbot(team)
    replies = _dataset(team, REPLIES, Mode.MESSAGE, "Every reply of the support bot, as it comes.")
    whole = _dataset(
        team, CONVERSATIONS, Mode.SESSION, "Whole conversations, once ended or idle a minute."
    )
    # Message mode takes a reply as soon as it exists; session mode a conversation once it
    # has been quiet a minute, ended or not.
    _rule(replies, bot, Completion.IMMEDIATE)
    _rule(whole, bot, Completion.IDLE)
    by_name = {spec["name"]: _evaluator(team, spec) for spec in EVALUATORS}
    for plan in CONFIGS:
        _config(team, plan, owner, by_name)
