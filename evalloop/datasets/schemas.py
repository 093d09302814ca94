"""Input and output models of the datasets API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StrictInt, StringConstraints

from evalloop.datasets.models import Mode
from evalloop.datasets.services import MAX_PICKED_SESSIONS
from evalloop.lib.inputs import Patch, Strict

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class DatasetIn(Strict):
    name: Name
    mode: Mode
    description: str = ""


class DatasetPatch(Patch):
    name: Name | None = None
    description: str | None = None
    mode: str | None = None  # accepted only to answer that it cannot change


class DatasetOut(Schema):
    id: int
    name: str
    mode: str
    description: str
    row_count: int
    created_at: datetime

    @staticmethod
    def resolve_row_count(obj: Any) -> int:
        count: int = obj.count_rows()
        return count


class RowIn(Strict):
    input: str = ""
    output: str = ""
    expected_output: str = ""
    history: list[Any] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    participant_data: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(default_factory=dict)


class RowPatch(Patch):
    input: str | None = None
    output: str | None = None
    expected_output: str | None = None
    history: list[Any] | None = None
    context: dict[str, Any] | None = None
    participant_data: dict[str, Any] | None = None
    state: dict[str, Any] | None = None


class SourceSessionOut(Schema):
    id: int
    chatbot: str
    external_id: str

    @staticmethod
    def resolve_chatbot(obj: Any) -> str:
        slug: str = obj.chatbot.slug
        return slug


class RowOut(Schema):
    id: int
    input: str
    output: str
    history: list[Any]
    context: dict[str, Any]
    participant_data: dict[str, Any]
    state: dict[str, Any]
    expected_output: str
    origin: str
    rule_id: int | None
    source_session: SourceSessionOut | None
    source_human_message_id: int | None
    source_ai_message_id: int | None
    copied_from_id: int | None = Field(
        description="For a copy: the row first copied (a copy of a copy names the original)."
    )
    edited: bool
    edited_at: datetime | None
    created_at: datetime


class ImportIn(Strict):
    """Either picked sessions, or what a filter matches on a chatbot (optionally sampled)."""

    session_ids: list[int] | None = Field(None, max_length=MAX_PICKED_SESSIONS)
    chatbot: str | None = None
    filter: list[Any] | None = None
    sample_rate: float | None = Field(None, gt=0, le=1)
    sample_as_rule: StrictInt | None = Field(
        None, description="A rule of this dataset: the sample keeps what it keeps at this rate."
    )


class ImportCountOut(Schema):
    sessions: int
    sources: int
    expected_rows: int
    background: bool


class JobOut(Schema):
    id: int
    status: str
    total: int
    processed: int
    rows_added: int
    skipped: int
    sampled_out: int
    error: str
    created_at: datetime
    finished_at: datetime | None


class ImportOut(Schema):
    rows_added: int
    skipped: int
    sampled_out: int
    sessions: int


class ImportJobOut(Schema):
    job: JobOut


class CopyIn(Strict):
    target: int
    row_ids: list[int] | None = Field(None, max_length=100_000)


class CopyOut(Schema):
    rows_added: int
    skipped: int


class CsvOut(Schema):
    rows_added: int
    rows_updated: int
    rows_unchanged: int
