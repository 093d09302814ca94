"""Time the filtered sessions list on a scratch database of N sessions.

    uv run python bench/filters.py --sessions 10000
    uv run python bench/filters.py --sessions 100000 --database-url postgres://postgres@127.0.0.1:5432/postgres

Without --database-url the data goes to a temporary SQLite file. With a PostgreSQL URL, a
scratch database is created on that server (the URL's database is only used to connect),
filled, timed and dropped. The developer's data dir is never used: settings point at a
temporary folder.

The list is the sessions page of one chatbot under a typical filter: tags any_of, created_at
within_last 7d and message_content contains, first page of 50, newest first. Sessions spread
over 180 days with 2 to 6 messages each; "vip" tags 10% of sessions (on the session), "paid"
5% (on a message), and 5% of sessions mention "refund".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
FILTER = [
    {"field": "tags", "op": "any_of", "value": ["vip", "paid"]},
    {"field": "created_at", "op": "within_last", "value": "7d"},
    {"field": "message_content", "op": "contains", "value": "refund"},
]
WORDS = ["order", "delivery", "account", "password", "invoice", "shipping", "late", "thanks"]
DAYS = 180
BATCH = 5000


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="evalloop-bench-") as folder:
        os.environ["EVALLOOP_DATA_DIR"] = folder
        if args.database_url:
            with scratch_postgres(args.database_url, keep=args.keep) as url:
                run(args, url)
        else:
            run(args, f"sqlite:///{folder}/bench.sqlite3")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--database-url", help="a postgres:// URL to create a scratch db on")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of the list query")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the PostgreSQL scratch database (and say its name)",
    )
    return parser.parse_args()


class scratch_postgres:
    """Create a scratch database next to the URL's and drop it afterwards."""

    def __init__(self, url: str, *, keep: bool = False) -> None:
        self.url, self.keep = url, keep
        self.name = f"evalloop_bench_{os.getpid()}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql)

    def __enter__(self) -> str:
        self.admin(f'CREATE DATABASE "{self.name}"')
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def __exit__(self, *exc: object) -> None:
        from django.db import connections

        connections.close_all()
        if self.keep:
            print(f"kept the scratch database {self.name}; drop it with DROP DATABASE")
            return
        self.admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def run(args: argparse.Namespace, url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, sessions: {args.sessions:,}")
    started = time.perf_counter()
    team, chatbot, counts = populate(args.sessions, random.Random(args.seed))
    print(f"populated in {time.perf_counter() - started:.1f}s: {counts}")
    measure(team, chatbot, args.repeat)


def populate(sessions: int, rng: random.Random) -> tuple[Any, Any, dict[str, int]]:
    from django.db import connection, transaction

    from evalloop.chat.models import Chatbot, Message, MessageTag, Session, SessionTag, Tag
    from evalloop.teams.models import Team

    team = Team.objects.create(slug="bench", name="Bench")
    chatbot = Chatbot.objects.create(team=team, slug="support", name="Support")
    other = Chatbot.objects.create(team=team, slug="sales", name="Sales")
    names = ["vip", "paid", *(f"topic-{n}" for n in range(18))]
    tags = {
        tag.name: tag.pk for tag in Tag.objects.bulk_create(Tag(team=team, name=n) for n in names)
    }
    plan = Plan(rng, sessions, team.pk, (chatbot.pk, other.pk), tags)
    with transaction.atomic():
        write(Session, plan.sessions())
        write(Message, plan.messages())
        write(SessionTag, plan.session_tags())
        write(MessageTag, plan.message_tags())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return team, chatbot, plan.counts


class Plan:
    """Rows generated with explicit ids (the scratch tables start empty)."""

    def __init__(
        self,
        rng: random.Random,
        sessions: int,
        team: int,
        bots: tuple[int, int],
        tags: dict[str, int],
    ) -> None:
        self.rng, self.size, self.team, self.bots, self.tags = rng, sessions, team, bots, tags
        self.now = datetime.now(UTC)
        self.lengths = [rng.randint(2, 6) for _ in range(sessions)]
        self.starts = [
            self.now - timedelta(seconds=rng.uniform(0, DAYS * 86400)) for _ in range(sessions)
        ]
        self.starts.sort()  # ids grow with time, as with real traffic
        # Independent draws: which sessions are vip, have a paid message, mention a refund.
        self.vip = [rng.random() < 0.10 for _ in range(sessions)]
        self.paid = [rng.random() < 0.05 for _ in range(sessions)]
        self.refund = [rng.random() < 0.05 for _ in range(sessions)]
        self.counts = {"sessions": sessions, "messages": sum(self.lengths)}

    def sessions(self) -> Iterator[dict[str, Any]]:
        for index, (start, length) in enumerate(zip(self.starts, self.lengths, strict=True)):
            last = start + timedelta(minutes=length - 1)
            yield {
                "id": index + 1,
                "team_id": self.team,
                "chatbot_id": self.bots[index % 5 == 4],  # a fifth on the other chatbot
                "external_id": f"s-{index}",
                "participant": f"p-{self.rng.randrange(sessions_participants(self.size))}",
                "channel": self.rng.choice(["web", "sms", "whatsapp"]),
                "version": self.rng.choice(["v1", "v2", "v3"]),
                "state": {"plan": self.rng.choice(["free", "pro"])},
                "message_count": length,
                "created_at": start,
                "last_message_at": last,
                "ended_at": last if self.rng.random() < 0.8 else None,
                "changed_at": last,
            }

    def messages(self) -> Iterator[dict[str, Any]]:
        next_id = 1
        for index, (start, length) in enumerate(zip(self.starts, self.lengths, strict=True)):
            refund = self.refund[index]
            for turn in range(length):
                yield {
                    "id": next_id,
                    "session_id": index + 1,
                    "role": "human" if turn % 2 == 0 else "ai",
                    "content": self.sentence(refund and turn == 0),
                    "created_at": start + timedelta(minutes=turn),
                    "metadata": {},
                    "external_id": f"m-{turn}",
                }
                next_id += 1

    def sentence(self, refund: bool) -> str:
        words = self.rng.choices(WORDS, k=8)
        if refund:
            words.insert(3, "Refund")
        return " ".join(words)

    def session_tags(self) -> Iterator[dict[str, Any]]:
        topics = [pk for name, pk in self.tags.items() if name.startswith("topic-")]
        for index in range(self.size):
            if self.vip[index]:
                yield {"session_id": index + 1, "tag_id": self.tags["vip"], "created_at": self.now}
            if index % 3 == 0:
                tag = topics[index % len(topics)]
                yield {"session_id": index + 1, "tag_id": tag, "created_at": self.now}

    def message_tags(self) -> Iterator[dict[str, Any]]:
        first_message = 1
        for index, length in enumerate(self.lengths):
            if self.paid[index]:
                yield {
                    "message_id": first_message + 1,
                    "tag_id": self.tags["paid"],
                    "created_at": self.now,
                }
            first_message += length


def sessions_participants(sessions: int) -> int:
    return max(sessions // 3, 1)


def write(model: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert `rows` fast: COPY on PostgreSQL, executemany in batches on SQLite."""
    from django.db import connection

    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = itertools.chain([first], rows)
    # A primary key the rows leave out is the database's to number.
    fields = [f for f in model._meta.concrete_fields if f.attname in first or not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    adapters = [adapter(f, connection.vendor) for f in fields]
    tuples = (
        tuple(
            adapt(row.get(f.attname, defaults[f.attname]))
            for f, adapt in zip(fields, adapters, strict=True)
        )
        for row in rows
    )
    table, columns = model._meta.db_table, ", ".join(f'"{f.column}"' for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
                for values in tuples:
                    copy.write_row(values)
            reset_sequence(cursor, model)
        else:
            marks = ", ".join("?" for _ in fields)
            sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'
            for batch in batched(tuples, BATCH):
                cursor.executemany(sql, batch)


def adapter(field: Any, vendor: str) -> Callable[[Any], Any]:
    kind = field.get_internal_type()
    if kind == "JSONField":
        return lambda value: json.dumps(value)
    if kind == "DateTimeField" and vendor == "sqlite":
        return lambda value: (
            None if value is None else value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        )
    if kind == "BooleanField" and vendor == "sqlite":
        return lambda value: int(value)
    return lambda value: value


def reset_sequence(cursor: Any, model: Any) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    for sql in connection.ops.sequence_reset_sql(no_style(), [model]):
        cursor.execute(sql)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def measure(team: Any, chatbot: Any, repeat: int) -> None:
    from django.db import connection, reset_queries
    from django.utils import timezone

    from evalloop.chat.models import Session
    from evalloop.filters import Target, apply_filter, parse_filter

    flt = parse_filter(FILTER, target=Target.SESSION)
    sessions = Session.objects.for_team(team).filter(chatbot=chatbot)
    page = apply_filter(sessions, flt, team=team).order_by("-created_at", "-pk")[:50]
    timings = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        rows = list(page.all())  # a fresh queryset: no result cache
        timings.append((time.perf_counter() - started) * 1000)
        reset_queries()
    first, rest = timings[0], timings[1:]
    print(f"filter: {'; '.join(flt.describe())}")
    window = sessions.filter(created_at__gte=timezone.now() - timedelta(days=7)).count()
    print(f"first page: {len(rows)} sessions (of {window:,} created in the last 7 days)")
    print(
        f"list query: first {first:.1f} ms, then median {statistics.median(rest):.1f} ms, "
        f"min {min(rest):.1f} ms, max {max(rest):.1f} ms over {len(rest)} runs"
    )
    if connection.vendor == "postgresql":
        print("\nEXPLAIN ANALYZE:\n" + page.explain(analyze=True, buffers=True))
    else:
        print("\nEXPLAIN QUERY PLAN:\n" + page.explain())


if __name__ == "__main__":
    main()
