"""Turn traffic into dataset rows, streaming.

Sessions are read a chunk at a time (keyset pages of ids), each chunk with a handful of
flat `values_list` queries, and rows go in with bulk inserts, so memory depends on the chunk
size and never on how many sessions an import covers.

Message mode makes one row per AI reply: `input` is the human turn right before it (system
messages in between are passed over; a reply with no human turn before it, e.g. a bot's
greeting, has an empty input), `history` is every earlier turn except that input. Session
mode makes one row per session with the whole transcript as `history`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F, Func, JSONField, QuerySet, TextField
from django.db.models.functions import Cast

from evalloop.chat.models import Message, MessageTag, Role, Session, SessionTag
from evalloop.datasets.models import Dataset, Mode, Row
from evalloop.lib.arrays import id_in

SESSIONS_PER_CHUNK = 1000
INSERT_BATCH = 1000

SourceKey = int | tuple[int | None, int]
Keep = Callable[[Row], bool]  # whether a sample keeps a row, by its source


@dataclass
class Tally:
    """What an import did: sessions read, rows added, sources skipped or sampled out."""

    sessions: int = 0
    added: int = 0
    skipped: int = 0
    sampled_out: int = 0

    def __iadd__(self, other: Tally) -> Tally:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self


class Facts(NamedTuple):
    """What a row needs to know about its session."""

    id: int
    external_id: str
    participant: str
    channel: str
    version: str
    # On PostgreSQL the JSON comes as JsonText and the times as their isoformat() text.
    state: Any
    participant_data: Any
    created_at: datetime | str
    last_message_at: datetime | str | None
    ended_at: datetime | str | None
    chatbot: str


class Msg(NamedTuple):
    id: int
    session_id: int
    role: str
    content: str
    created_at: datetime
    metadata: dict[str, Any]


def session_id_chunks(sessions: QuerySet[Session], size: int | None = None) -> Iterator[list[int]]:
    """Answer the ids of `sessions` in ascending pages (keyset: no long-lived cursor)."""
    size = size or SESSIONS_PER_CHUNK
    last = 0
    while True:
        ids = list(sessions.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def source_key(
    mode: str, session_id: int | None, human_id: int | None, ai_id: int | None
) -> SourceKey | None:
    """The identity of a row's source: its session, or in message mode its message pair."""
    if mode == Mode.SESSION:
        return session_id
    return (human_id, ai_id) if ai_id is not None else None


def existing_sources(dataset: Dataset, session_ids: Iterable[int | None]) -> set[SourceKey]:
    """The source keys among `session_ids` that `dataset` already holds."""
    # Unordered, and bounded by the chunk's id range: while a big import fills a dataset
    # its statistics lag, and PostgreSQL would otherwise walk every row of the dataset
    # (to honour the rows' default order, or to test a bare IN list) for each chunk.
    ids = sorted(i for i in session_ids if i is not None)
    if not ids:
        return set()
    rows = dataset.rows.order_by().filter(
        id_in("source_session_id", ids),
        source_session_id__gte=ids[0],
        source_session_id__lte=ids[-1],
    )
    if dataset.mode == Mode.SESSION:
        return set(rows.values_list("source_session_id", flat=True))
    return set(rows.values_list("source_human_message_id", "source_ai_message_id"))


def snapshot_sessions(
    *,
    dataset: Dataset,
    sessions: QuerySet[Session],
    origin: str,
    keep: Keep | None = None,
    on_chunk: Callable[[Tally], None] | None = None,
) -> Tally:
    """Append a row per source of `sessions` to `dataset`, skipping sources it already holds."""
    tally = Tally()
    for ids in session_id_chunks(sessions):
        chunk = snapshot_chunk(dataset=dataset, session_ids=ids, origin=origin, keep=keep)
        tally += chunk
        if on_chunk is not None:
            on_chunk(chunk)
    return tally


def snapshot_chunk(
    *, dataset: Dataset, session_ids: list[int], origin: str, keep: Keep | None = None
) -> Tally:
    """Build and insert the rows of one chunk of sessions."""
    candidates = build_rows(dataset=dataset, session_ids=session_ids, origin=origin)
    tally = add_new_rows(dataset=dataset, candidates=candidates, keep=keep)
    tally.sessions = len(session_ids)
    return tally


def build_rows(*, dataset: Dataset, session_ids: list[int], origin: str) -> list[Row]:
    """The rows a chunk of sessions makes, read without writing (so outside a transaction)."""
    build = build_session_rows if dataset.mode == Mode.SESSION else build_message_rows
    return build(dataset=dataset, session_ids=session_ids, origin=origin)


def add_new_rows(*, dataset: Dataset, candidates: list[Row], keep: Keep | None = None) -> Tally:
    """Insert the candidates whose source `dataset` does not hold yet.

    Run it in the transaction that locked the dataset, so two imports never both add one
    source.
    """
    tally, _ = append_new_rows(dataset=dataset, candidates=candidates, keep=keep)
    return tally


def append_new_rows(
    *, dataset: Dataset, candidates: list[Row], keep: Keep | None = None
) -> tuple[Tally, list[Row]]:
    """`add_new_rows`, also answering the rows it inserted (with their ids)."""
    present = existing_sources(dataset, {row.source_session_id for row in candidates})
    fresh = [row for row in candidates if _key(dataset.mode, row) not in present]
    kept = [row for row in fresh if keep is None or keep(row)]
    insert_rows(kept)
    tally = Tally(
        added=len(kept), skipped=len(candidates) - len(fresh), sampled_out=len(fresh) - len(kept)
    )
    return tally, kept


def insert_rows(rows: list[Row]) -> list[Row]:
    """Insert rows in batches and give them their ids.

    PostgreSQL loads them with COPY, its bulk-loading path (an INSERT of a thousand rows
    spends most of its time quoting JSON arrays on the client); ids come from the table's
    sequence first, so callers get them on every database.
    """
    if connection.vendor != "postgresql":
        return Row.objects.bulk_create(rows, batch_size=INSERT_BATCH)
    for start in range(0, len(rows), INSERT_BATCH):
        _copy(rows[start : start + INSERT_BATCH])
    return rows


def _copy(rows: list[Row]) -> None:
    table = Row._meta.db_table
    fields = list(Row._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row.pk = pk
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_db_value(field, getattr(row, field.attname)) for field in fields])


def _db_value(field: Any, value: Any) -> Any:
    if isinstance(field, JSONField):
        return value if isinstance(value, JsonText) else json.dumps(value, cls=field.encoder)
    return value


def _key(mode: str, row: Row) -> SourceKey | None:
    return source_key(
        mode, row.source_session_id, row.source_human_message_id, row.source_ai_message_id
    )


# Reading one chunk of traffic


def session_facts(session_ids: list[int]) -> dict[int, Facts]:
    columns: list[Any] = [f for f in Facts._fields if f != "chatbot"] + ["chatbot__slug"]
    sessions = Session.objects.filter(id_in("id", session_ids))
    if connection.vendor != "postgresql":
        return {values[0]: Facts(*values) for values in sessions.values_list(*columns)}
    # Times come as their isoformat() text and JSON as its text: nothing to parse and
    # write back.
    as_text = {name: _pg_as_text(name) for name in _TEXT_ON_PG}
    found = sessions.values_list(*(as_text.get(column, column) for column in columns))
    return {values[0]: _text_facts(Facts(*values)) for values in found}


_TEXT_ON_PG = {"state", "participant_data", "created_at", "last_message_at", "ended_at"}


def _pg_as_text(name: str) -> Func:
    if name in {"state", "participant_data"}:
        return Cast(name, TextField())
    return Func(
        F(name), template=_PG_ISO_TIME.format(t="%(expressions)s"), output_field=TextField()
    )


def _text_facts(facts: Facts) -> Facts:
    state, data = facts.state, facts.participant_data
    return facts._replace(
        state=state if state is None else JsonText(state),
        participant_data=data if data is None else JsonText(data),
    )


def session_messages(session_ids: list[int]) -> Iterator[tuple[int, list[Msg]]]:
    """Each session's messages in conversation order, session by session."""
    found = (
        Message.objects.filter(id_in("session_id", session_ids))
        .order_by("session_id", "created_at", "id")
        .values_list(*Msg._fields)
    )
    for session_id, group in groupby((Msg(*values) for values in found), key=itemgetter(1)):
        yield session_id, list(group)


class JsonText(str):
    """A JSON value the database encoded already, written to a row as it is."""


# Python's isoformat() of a UTC time, in SQL: microseconds only when there are some.
_PG_ISO_TIME = (
    "to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    "|| CASE WHEN mod(date_part('microseconds', {t})::bigint, 1000000) = 0 THEN '' "
    "ELSE to_char({t} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)


def session_transcripts(session_ids: list[int]) -> dict[int, Any]:
    """Each session's turns, read without what only message mode needs (ids, metadata).

    PostgreSQL builds each transcript's JSON itself (the same value as below), so a bulk
    import neither parses nor re-formats the time of every message.
    """
    if connection.vendor == "postgresql":
        return _pg_transcripts(session_ids)
    transcripts: dict[int, list[dict[str, str]]] = defaultdict(list)
    found = (
        Message.objects.filter(id_in("session_id", session_ids))
        .order_by("session_id", "created_at", "id")
        .values_list("session_id", "role", "content", "created_at")
    )
    for session_id, role, content, created_at in found:
        turns = transcripts[session_id]
        turns.append({"role": role, "content": content, "created_at": created_at.isoformat()})
    return transcripts


def _pg_transcripts(session_ids: list[int]) -> dict[int, Any]:
    turn = (
        "json_build_object('role', m.role, 'content', m.content, 'created_at', "
        + _PG_ISO_TIME.format(t="m.created_at")
        + ")"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.session_id, json_agg({turn} ORDER BY m.created_at, m.id)::text "
            f"FROM {Message._meta.db_table} m WHERE m.session_id = ANY(%s) "
            "GROUP BY m.session_id",
            [list(session_ids)],
        )
        return {session_id: JsonText(history) for session_id, history in cursor.fetchall()}


def session_tags(session_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    links = SessionTag.objects.filter(id_in("session_id", session_ids))
    for session_id, name in links.values_list("session_id", "tag__name").order_by("tag__name"):
        tags[session_id].append(name)
    return tags


def message_tags(session_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    links = MessageTag.objects.filter(id_in("message__session_id", session_ids))
    for message_id, name in links.values_list("message_id", "tag__name").order_by("tag__name"):
        tags[message_id].append(name)
    return tags


def turn(message: Msg) -> dict[str, str]:
    return {
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
    }


def _iso(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def session_context(facts: Facts, tags: list[str]) -> dict[str, Any]:
    return {
        "tags": tags,
        "chatbot": facts.chatbot,
        "session": facts.external_id,
        "participant": facts.participant,
        "channel": facts.channel,
        "version": facts.version,
        "created_at": _iso(facts.created_at),
        "last_message_at": _iso(facts.last_message_at),
        "ended_at": _iso(facts.ended_at),
    }


# Session mode


def build_session_rows(*, dataset: Dataset, session_ids: list[int], origin: str) -> list[Row]:
    facts = session_facts(session_ids)
    tags = session_tags(session_ids)
    transcripts = session_transcripts(session_ids)
    return [
        _session_row(dataset, origin, facts[sid], transcripts.get(sid, []), tags.get(sid, []))
        for sid in session_ids
        if sid in facts
    ]


def _session_row(dataset: Dataset, origin: str, facts: Facts, history: Any, tags: list[str]) -> Row:
    return Row(
        dataset=dataset,
        history=history,
        context=session_context(facts, tags),
        participant_data=facts.participant_data,
        state=facts.state,
        origin=origin,
        source_session_id=facts.id,
    )


def insert_session_rows(
    *, dataset: Dataset, session_ids: list[int], origin: str, rule_id: int | None = None
) -> dict[int, int]:
    """PostgreSQL: `build_rows` and `append_new_rows` for a session-mode dataset, in SQL.

    The same rows (one per session of `session_ids` the dataset does not hold yet, in id
    order) are built and inserted by one statement, without the transcripts travelling to
    the client and back. Answers the row made per session id. Run it where the dataset
    is locked, as `append_new_rows`.
    """
    iso = _PG_ISO_TIME.format
    turn = (
        "json_build_object('role', m.role, 'content', m.content, 'created_at', "
        + iso(t="m.created_at")
        + ")"
    )
    tables = {
        "row": Row._meta.db_table,
        "session": Session._meta.db_table,
        "message": Message._meta.db_table,
        "session_tag": SessionTag._meta.db_table,
        "tag": SessionTag._meta.get_field("tag").related_model._meta.db_table,
        "chatbot": Session._meta.get_field("chatbot").related_model._meta.db_table,
    }
    sql = f"""
        INSERT INTO {tables["row"]} (dataset_id, input, output, history, context,
            participant_data, state, expected_output, origin, source_session_id,
            source_human_message_id, source_ai_message_id, rule_id, created_at, edited_at)
        SELECT %(dataset)s, '', '',
            coalesce((SELECT json_agg({turn} ORDER BY m.created_at, m.id)
                FROM {tables["message"]} m WHERE m.session_id = s.id), '[]')::jsonb,
            json_build_object(
                'tags', coalesce((SELECT json_agg(t.name ORDER BY t.name)
                    FROM {tables["session_tag"]} st JOIN {tables["tag"]} t ON t.id = st.tag_id
                    WHERE st.session_id = s.id), '[]'),
                'chatbot', c.slug, 'session', s.external_id, 'participant', s.participant,
                'channel', s.channel, 'version', s.version,
                'created_at', {iso(t="s.created_at")},
                'last_message_at', {iso(t="s.last_message_at")},
                'ended_at', {iso(t="s.ended_at")})::jsonb,
            s.participant_data, s.state, '', %(origin)s, s.id, NULL, NULL, %(rule)s,
            statement_timestamp(), NULL
        FROM {tables["session"]} s JOIN {tables["chatbot"]} c ON c.id = s.chatbot_id
        WHERE s.id = ANY(%(ids)s::bigint[]) AND NOT EXISTS (
            SELECT 1 FROM {tables["row"]} r
            WHERE r.dataset_id = %(dataset)s AND r.source_session_id = s.id
            AND r.source_session_id BETWEEN %(first)s AND %(last)s)
        ORDER BY s.id
        RETURNING source_session_id, id
    """
    params: dict[str, Any] = {"dataset": dataset.pk, "origin": origin, "rule": rule_id}
    # The id range bounds the check of the rows already held, as in `existing_sources`.
    ids = sorted(session_ids)
    params.update(ids=ids, first=ids[0] if ids else 0, last=ids[-1] if ids else 0)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


# Message mode


def build_message_rows(*, dataset: Dataset, session_ids: list[int], origin: str) -> list[Row]:
    facts = session_facts(session_ids)
    tags = message_tags(session_ids)
    stags = session_tags(session_ids)
    rows: list[Row] = []
    for session_id, messages in session_messages(session_ids):
        context = session_context(facts[session_id], stags.get(session_id, []))
        rows.extend(
            _reply_row(dataset, origin, facts[session_id], messages, index, context, tags)
            for index, message in enumerate(messages)
            if message.role == Role.AI
        )
    return rows


def human_before(messages: list[Msg], index: int) -> int | None:
    """The index of the human turn the reply at `index` answers, passing over system turns."""
    for earlier in range(index - 1, -1, -1):
        role = messages[earlier].role
        if role != Role.SYSTEM:
            return earlier if role == Role.HUMAN else None
    return None


def _reply_row(
    dataset: Dataset,
    origin: str,
    facts: Facts,
    messages: list[Msg],
    index: int,
    session: dict[str, Any],
    tags: dict[int, list[str]],
) -> Row:
    reply = messages[index]
    asked = human_before(messages, index)
    human = messages[asked] if asked is not None else None
    return Row(
        dataset=dataset,
        input=human.content if human else "",
        output=reply.content,
        history=[turn(m) for i, m in enumerate(messages[:index]) if i != asked],
        context=reply_context(session, human, reply, tags),
        participant_data=facts.participant_data,
        state=facts.state,
        origin=origin,
        source_session_id=facts.id,
        source_human_message_id=human.id if human else None,
        source_ai_message_id=reply.id,
    )


def reply_context(
    session: dict[str, Any], human: Msg | None, reply: Msg, tags: dict[int, list[str]]
) -> dict[str, Any]:
    asked_tags = tags.get(human.id, []) if human else []
    return {
        **session,
        "session_tags": session["tags"],
        "tags": sorted({*asked_tags, *tags.get(reply.id, [])}),
        "time": reply.created_at.isoformat(),
        "input_time": human.created_at.isoformat() if human else None,
        "metadata": reply.metadata,
        "input_metadata": human.metadata if human else {},
    }
