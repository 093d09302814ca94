"""Input and output models of the auto-population rules API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from ninja import Schema
from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from evalloop.autopopulate.models import Completion, Rule, Tick
from evalloop.autopopulate.preview import DAYS, MAX_DAYS
from evalloop.lib.inputs import Patch, Strict
from evalloop.lib.moments import Timestamp

# The fields are strict: `true` is not the chatbot 1, "0.5" not a rate, 0 not a time.
Slug = Annotated[
    StrictStr, StringConstraints(pattern=r"^[-a-zA-Z0-9_]+$", min_length=1, max_length=64)
]
ChatbotRef = Annotated[
    StrictInt | Slug,
    Field(description="The source chatbot of the dataset's team: its id or slug."),
]
SampleRate = Annotated[StrictFloat, Field(gt=0, le=1)]
IdleMinutes = Annotated[StrictInt, Field(ge=1, le=10080)]
ModeName = Literal["session", "message"]


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 string")
    return value


StartAt = Annotated[Timestamp, BeforeValidator(_iso_text)]
"""A rule's start: ISO 8601 text only (a number is not read as seconds since 1970)."""


class CompletionIn(Strict):
    policy: Literal["ended", "idle", "immediate"]
    idle_minutes: IdleMinutes | None = None


class RuleIn(Strict):
    chatbot: ChatbotRef
    filter: list[Any] = Field(default_factory=list, description="A session filter (JSON form).")
    enabled: StrictBool = True
    completion: CompletionIn | None = None
    sample_rate: SampleRate = 1.0
    start_at: StartAt | None = Field(
        None, description="Default: now. In the past, the rule backfills from there."
    )
    mode: ModeName | None = Field(
        None, description="Optional; refused unless it is the dataset's mode."
    )


class RulePatch(Patch):
    chatbot: ChatbotRef | None = None
    filter: list[Any] | None = None
    enabled: StrictBool | None = None
    completion: CompletionIn | None = None
    sample_rate: SampleRate | None = None
    start_at: StartAt | None = None
    mode: ModeName | None = None

    nullable: ClassVar[frozenset[str]] = frozenset()


def completion_fields(completion: CompletionIn | None) -> dict[str, Any]:
    """The service's fields for a completion policy (none when it is left out)."""
    if completion is None:
        return {}
    fields: dict[str, Any] = {"completion": Completion(completion.policy)}
    if completion.idle_minutes is not None:
        fields["idle_minutes"] = completion.idle_minutes
    return fields


class CompletionOut(Schema):
    policy: str
    idle_minutes: int


class RuleOut(Schema):
    id: int
    dataset: int
    mode: str
    chatbot: int
    chatbot_slug: str
    filter: list[Any]
    enabled: bool
    completion: CompletionOut
    sample_rate: float
    start_at: datetime
    last_run_at: datetime | None
    last_status: str
    last_error: str
    consecutive_failures: int
    rows_contributed: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_dataset(obj: Rule) -> int:
        return obj.dataset_id

    @staticmethod
    def resolve_mode(obj: Rule) -> str:
        return str(obj.dataset.mode)

    @staticmethod
    def resolve_chatbot(obj: Rule) -> int:
        return obj.chatbot_id

    @staticmethod
    def resolve_chatbot_slug(obj: Rule) -> str:
        return str(obj.chatbot.slug)

    @staticmethod
    def resolve_completion(obj: Rule) -> dict[str, Any]:
        return {"policy": obj.completion, "idle_minutes": obj.idle_minutes}

    @staticmethod
    def resolve_rows_contributed(obj: Rule) -> int:
        # Every endpoint answers rules counted in their query (`with_rows_contributed`);
        # a count of 0 is a count like any other.
        counted = getattr(obj, "rows_contributed", None)
        return int(obj.rows.count() if counted is None else counted)


class TickSummaryOut(Schema):
    """What one tick of the rule did."""

    rule_id: int
    status: str
    scanned: int
    matched: int
    sampled_out: int
    in_ledger: int
    appended: int
    duration_ms: int
    error: str


class TickOut(Schema):
    id: int
    time: datetime
    status: str
    scanned: int
    matched: int
    sampled_out: int
    in_ledger: int
    appended: int
    duration_ms: int
    error: str

    @staticmethod
    def resolve_time(obj: Tick) -> datetime:
        return obj.at


# Preview

Days = Annotated[StrictInt, Field(ge=1, le=MAX_DAYS, description="The preview's window, in days.")]


class PreviewIn(Strict):
    days: Days = DAYS


class RulePreviewIn(RuleIn):
    """A rule as on creation, previewed without saving it."""

    days: Days = DAYS


class ExampleOut(Schema):
    session: str = Field(description="The session's external id.")
    session_id: int
    message_id: int | None = Field(description="The AI reply, in message mode.")
    created_at: datetime
    text: str
    url: str = Field(description="The transcript page.")


class BackfillOut(Schema):
    since: datetime
    would_add: int
    estimate: bool


class PreviewOut(Schema):
    days: int
    unit: Literal["session", "turn"]
    would_add: int = Field(description="Sources of the last `days` days the rule would take now.")
    estimate: bool = Field(
        description="True when `would_add` is the matches times the sample rate (a rule not "
        "saved yet has no id to sample by) or read from a sample of the ids."
    )
    examples: list[ExampleOut] = Field(description="Up to 5, newest first.")
    backfill: BackfillOut | None = Field(
        description="With a past `start_at`: what the rule would add from there to now."
    )
    evaluations: int | None = Field(
        description="Evaluations the backfill triggers: its sources times the evaluators of "
        "each config of the dataset that runs on append; null when none does."
    )


# Explain


class TurnExplained(Schema):
    """One AI turn of a message-mode session: its decision and why."""

    message_id: int
    decision: str
    reason: str
    row_id: int | None
    row_position: int | None
    clause: int | None
    clause_text: str
    complete_at: datetime | None
    then: str | None


class Explained(Schema):
    """Why a session is, or is not, in the rule's dataset."""

    rule: int
    session: str
    decision: str = Field(
        description="added, in_ledger, disabled, before_start, not_complete, filtered_out, "
        "sampled_out, pending, no_turns, mixed (message mode: turns decided differently) "
        "or undecided (the filter ran out of time)."
    )
    reason: str
    row_id: int | None = Field(description="The dataset row that holds the source, if any.")
    row_position: int | None = Field(
        description="That row's place in the dataset, from 1: the number its pages show."
    )
    clause: int | None = Field(description="The first clause that fails, counted from 1.")
    clause_text: str
    complete_at: datetime | None = Field(
        description="Idle policy: when the session becomes complete if nothing changes."
    )
    then: str | None = Field(description="A switched-off rule: what it would decide once on.")
    turns: list[TurnExplained] = Field(description="Message mode: one item per turn.")
