"""Import of conversation logs (CSV or JSON Lines, one message a row) through batch ingestion.

The file is read twice, as a stream: once to check every row (nothing is written if any row
is wrong, and the report names each bad row), then to ingest it in batches, each batch a
transaction of its own. Memory holds one batch at a time, whatever the size of the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import IO, Annotated, Any

import pydantic
from django.utils import timezone
from pydantic import StringConstraints, field_validator, model_validator

from evalloop.chat import ingest
from evalloop.chat.ingest import IngestSummary, ingest_traffic
from evalloop.chat.models import Chatbot, Role
from evalloop.chat.schemas import ExternalId, MessageIn, SessionIn, TagList, TrafficBatch
from evalloop.lib import busy
from evalloop.lib.inputs import Strict, load_json
from evalloop.lib.moments import timestamp_in_range

FORMATS = ("csv", "jsonl")
MAX_IMPORT_BYTES = 50 * 1024 * 1024
ROWS_PER_BATCH = 1_000  # so at most 1,000 sessions, the batch limit
MAX_REPORTED_ERRORS = 100
REQUIRED_COLUMNS = ("session_id", "role", "content", "created_at")
OPTIONAL_COLUMNS = ("message_id", "tags", "session_tags", "participant", "channel", "version")


class LogRow(Strict):
    """One message of a conversation log."""

    session_id: ExternalId
    message_id: ExternalId | None = None
    role: Role
    content: str
    created_at: datetime
    tags: TagList = []
    session_tags: TagList = []
    participant: Annotated[str, StringConstraints(max_length=255)] | None = None
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    version: Annotated[str, StringConstraints(max_length=100)] | None = None

    @model_validator(mode="before")
    @classmethod
    def empty_cells_are_absent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            k: v for k, v in data.items() if not (k not in REQUIRED_COLUMNS and v in ("", None))
        }

    @field_validator("tags", "session_tags", mode="before")
    @classmethod
    def split_tag_lists(cls, value: Any) -> Any:
        return value.split(",") if isinstance(value, str) else value

    @field_validator("created_at")
    @classmethod
    def times_are_local_if_naive_and_in_range(cls, value: datetime) -> datetime:
        return timestamp_in_range(timezone.make_aware(value) if timezone.is_naive(value) else value)

    def message_key(self) -> str:
        """The message's external id: given, or derived from what the row says."""
        if self.message_id is not None:
            return self.message_id
        parts = (self.session_id, self.role, self.created_at.astimezone(UTC).isoformat())
        digest = hashlib.sha256("\x1f".join((*parts, self.content)).encode()).hexdigest()
        return f"row:{digest[:32]}"


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0
    summary: IngestSummary | None = None

    def add(self, error: RowError) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)
        else:
            self.more_errors += 1


def detect_format(filename: str) -> str | None:
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    return "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else None


def import_log(*, chatbot: Chatbot, file: IO[bytes], fmt: str) -> ImportReport:
    """Check every row of `file`; if all are good, ingest them into `chatbot` batch by batch.

    Each batch is a transaction of its own, so that on SQLite traffic keeps flowing while a
    large file goes in. A batch that finds the database busy is tried again; if it still
    cannot go in, the error goes on and the batches before it stay: importing the same
    file again stores the rest, and nothing twice.
    """
    report = check_log(file=file, fmt=fmt)
    if report.errors:
        return report
    file.seek(0)
    summary = IngestSummary()
    for batch in _batches(chatbot, _valid_rows(file, fmt)):
        summary += busy.bulk_step(partial(ingest_traffic, team=chatbot.team, batch=batch))
    report.summary = summary
    return report


def check_log(*, file: IO[bytes], fmt: str) -> ImportReport:
    """Answer how many rows `file` has and what is wrong with them, writing nothing."""
    report = ImportReport()
    for item in _parsed_rows(file, fmt):
        if isinstance(item, RowError):
            report.add(item)
        else:
            report.rows += 1
    if not report.rows and not report.errors:
        report.add(RowError(1, "file", "The file has no rows."))
    return report


def _valid_rows(file: IO[bytes], fmt: str) -> Iterator[LogRow]:
    for item in _parsed_rows(file, fmt):
        if isinstance(item, RowError):
            raise ValueError(f"The file changed after it was checked (line {item.line}).")
        yield item


def _parsed_rows(file: IO[bytes], fmt: str) -> Iterator[LogRow | RowError]:
    raw = _csv_rows if fmt == "csv" else _jsonl_rows
    line = 1
    with _text(file) as text:
        try:
            for line, data in raw(text):
                yield data if isinstance(data, RowError) else _row(line, data)
        except UnicodeDecodeError:
            yield RowError(line + 1, "file", "The file is not UTF-8 text.")
        except csv.Error as exc:
            yield RowError(line + 1, "file", f"The file is not readable CSV: {exc}.")


def _row(line: int, data: dict[str, Any]) -> LogRow | RowError:
    try:
        return LogRow.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "row"
        return RowError(line, where, first["msg"])


@contextmanager
def _text(file: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield text
    finally:
        text.detach()  # the upload stays open for the second pass


def _csv_rows(text: io.TextIOWrapper) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    reader = csv.DictReader(text)
    header = reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    problems = _header_problems(header)
    if problems:
        yield from ((1, problem) for problem in problems)
        return
    for data in reader:
        extra = data.pop(None, None)
        if extra:
            yield reader.line_num, RowError(reader.line_num, "row", "More cells than columns.")
        else:
            yield reader.line_num, data


def _header_problems(header: list[str]) -> list[RowError]:
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name for name in header if name not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    return [RowError(1, name, "Missing column.") for name in missing] + [
        RowError(1, name, "Unknown column.") for name in unknown
    ]


def _jsonl_rows(text: io.TextIOWrapper) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, content in enumerate(text, start=1):
        if not content.strip():
            continue
        try:
            data = load_json(content)
        except json.JSONDecodeError:
            yield line, RowError(line, "row", "Not a JSON object.")
            continue
        except ValueError as exc:  # valid JSON, but not storable: NaN, NUL, deep nesting
            yield line, RowError(line, "row", f"{exc}.")
            continue
        yield line, data if isinstance(data, dict) else RowError(line, "row", "Not an object.")


def _batches(chatbot: Chatbot, rows: Iterator[LogRow]) -> Iterator[TrafficBatch]:
    sessions: dict[str, SessionIn] = {}
    count = tags = 0
    for row in rows:
        row_tags = len(row.tags) + len(row.session_tags)  # at most: session tags may repeat
        if sessions and tags + row_tags > ingest.MAX_TAGS_PER_BATCH:
            yield TrafficBatch(sessions=list(sessions.values()))
            sessions, count, tags = {}, 0, 0
        _session_of(sessions, chatbot, row).messages.append(_message(row))
        count, tags = count + 1, tags + row_tags
        if count == ROWS_PER_BATCH:
            yield TrafficBatch(sessions=list(sessions.values()))
            sessions, count, tags = {}, 0, 0
    if sessions:
        yield TrafficBatch(sessions=list(sessions.values()))


def _session_of(sessions: dict[str, SessionIn], chatbot: Chatbot, row: LogRow) -> SessionIn:
    session = sessions.get(row.session_id)
    if session is None:
        session = sessions[row.session_id] = SessionIn(
            chatbot=chatbot.slug, external_id=row.session_id
        )
    for name in ("participant", "channel", "version"):
        if getattr(row, name) is not None:
            setattr(session, name, getattr(row, name))
    session.tags.extend(name for name in row.session_tags if name not in session.tags)
    return session


def _message(row: LogRow) -> MessageIn:
    return MessageIn(
        external_id=row.message_key(),
        role=row.role,
        content=row.content,
        created_at=row.created_at,
        tags=row.tags,
    )
