"""The auto-population tick: steady, no-op and backfill ticks, by size of the history.

    uv run python bench/tick.py                       # PostgreSQL: 10k, 100k and 1M, backfill 100k
    uv run python bench/tick.py --sizes 10000 --backfill 10000 --db sqlite

For each database a scratch store is made (see scratch.py). A session-mode rule (filter
`tags none_of spam`, completion `ended`, an auto-running config with one `contains`
evaluator) watches a chatbot whose history of N ended sessions lies inside the rule's window
and is already taken: a row and a ledger entry per session, the watermark a minute ago.
History sessions have `--history-messages` messages each (2 by default, so that 1M loads in
minutes; the tick never reads them). Then, on a clock that moves 30 s (a tick interval) per
tick:

- steady: 100 new ended sessions of 6 messages arrive, then one periodic tick (`tick()`:
  every rule, then due delta runs); the median of `--repeat` ticks after a warm-up.
- no-op: nothing arrived since the last tick; median of `--repeat` ticks, and their queries.

Backfill: a second chatbot with `--backfill` ended sessions of 6 messages and a rule whose
window covers them all, never ticked: the first tick (capped at EVALLOOP_TICK_MAX_SOURCES),
then ticks one after another until the window is taken, each summed. The longest lock is the
longest per-batch transaction (from claiming the rule to its commit). Each measurement runs
in a fresh child process, so the peak RSS is the tick's own. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch import scratch_environment

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "evalloop_tickbench"
NEW_SESSIONS = 100
MESSAGES = 6
TICK_INTERVAL = timedelta(seconds=30)
LOAD_BATCH = 50_000
ID_STRIDE = 10_000_000  # each chatbot's sessions get ids from their own range
FILTER = [{"field": "tags", "op": "none_of", "value": ["spam"]}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="postgres", help="postgres, sqlite or both")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="sessions of history")
    parser.add_argument("--backfill", type=int, default=100_000, help="sessions; 0 skips it")
    parser.add_argument("--history-messages", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scratch-db", default=SCRATCH_DB, help="PostgreSQL scratch database")
    parser.add_argument("--child", choices=["seed", "steady", "backfill"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for db in args.db.split(","):
        run_database(db.strip(), args)


def run_database(db: str, args: Any) -> None:
    with scratch_environment(db, args.scratch_db) as env:
        print(f"\n{db}: steady and no-op ticks (median of {args.repeat})\n")
        print("| history | seed s | +100 tick ms | no-op tick ms | no-op queries |")
        print("| --- | --- | --- | --- | --- |")
        loaded = 0
        for size in [int(s) for s in args.sizes.split(",")]:
            began = time.perf_counter()
            spawn(env, "seed", args, size=size - loaded)
            loaded = size
            seeded = time.perf_counter() - began
            result = json.loads(spawn(env, "steady", args))
            print(
                f"| {size:,} | {seeded:.0f} | {result['steady_ms']:.1f} | "
                f"{result['noop_ms']:.1f} | {result['noop_queries']} |",
                flush=True,
            )
        if args.backfill:
            result = json.loads(spawn(env, "backfill", args, size=args.backfill))
            print_backfill(db, args.backfill, result)


def print_backfill(db: str, size: int, result: dict[str, Any]) -> None:
    seeded = f"seeded in {result['seed_s']:.0f} s"
    print(f"\n{db}: backfill of {size:,} sessions of {MESSAGES} messages ({seeded})\n")
    print("| ticks | sessions | seconds | sessions/s | longest lock ms | batches | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label in ("first", "all"):
        part = result[label]
        print(
            f"| {label} ({part['ticks']}) | {part['appended']:,} | {part['seconds']:.2f} | "
            f"{part['appended'] / part['seconds']:,.0f} | {part['lock_ms']:.0f} | "
            f"{part['batches']} | {result['peak_mb']:.0f} |"
        )
    print(f"\nload average {os.getloadavg()[0]:.1f}", flush=True)


def spawn(env: dict[str, str], what: str, args: Any, **options: Any) -> str:
    flags = [f"--{name}={value}" for name, value in options.items()]
    shared = [f"--history-messages={args.history_messages}", f"--repeat={args.repeat}"]
    command = [sys.executable, __file__, f"--child={what}", *shared, *flags]
    # Progress goes to stderr as it comes; the answer is the last line of stdout.
    done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"the {what} step failed")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


# Children


def child(args: Any) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.child == "seed":
        seed_history(args.size, args.history_messages)
    elif args.child == "steady":
        print(json.dumps(measure_steady(args.repeat)))
    else:
        print(json.dumps(measure_backfill(args.size)))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clock() -> datetime:
    """The bench's now: the rule's watermark plus a minute (kept on the rule itself)."""
    from evalloop.autopopulate.models import Rule

    watermark = Rule.objects.get(chatbot__slug="live").watermark
    return (watermark or datetime.now(UTC)) + timedelta(minutes=1)


def setup_live() -> Any:
    """The team, the watched chatbot, its dataset, rule and auto-running config (once)."""
    from django.core.management import call_command

    from evalloop.autopopulate.models import Rule

    call_command("migrate", verbosity=0)
    found = Rule.objects.filter(chatbot__slug="live").select_related("dataset").first()
    if found is not None:
        return found
    team = bench_team()
    rule = make_rule(team, "live", start_at=datetime.now(UTC) - timedelta(days=31))
    rule.watermark = datetime.now(UTC) - timedelta(minutes=1)
    rule.save(update_fields=["watermark"])
    auto_run(rule.dataset)
    return rule


def bench_team() -> Any:
    from evalloop.teams import flags
    from evalloop.teams import services as teams
    from evalloop.teams.models import Team

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    teams.set_team_flag(team=team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    return team


def make_rule(team: Any, slug: str, *, start_at: datetime) -> Any:
    from evalloop.autopopulate.services import create_rule
    from evalloop.chat.models import Chatbot
    from evalloop.datasets.models import Dataset

    chatbot = Chatbot.objects.create(team=team, slug=slug, name=slug.title())
    dataset = Dataset.objects.create(team=team, name=f"From {slug}", mode="session")
    return create_rule(dataset=dataset, chatbot=chatbot, filter=FILTER, start_at=start_at)


def auto_run(dataset: Any) -> None:
    from evalloop.evaluators.services import create_evaluator
    from evalloop.runs.services import create_config

    evaluator = create_evaluator(
        team=dataset.team, name="refunds", kind="contains", params={"words": ["refund"]}
    )
    create_config(
        team=dataset.team,
        name="Every new session",
        dataset=dataset,
        evaluators=[evaluator],
        auto_run_on_append=True,
    )


def seed_history(count: int, messages: int) -> None:
    """`count` more ended sessions of history, each already a row and a ledger entry."""
    from django.db import connection

    rule = setup_live()
    watermark = rule.watermark
    first = max_session_id(rule.chatbot_id) + 1
    began = time.perf_counter()
    for start in range(first, first + count, LOAD_BATCH):
        ids = range(start, min(start + LOAD_BATCH, first + count))
        times = spread(ids, first, count, rule.start_at, watermark)
        load_sessions(rule.chatbot, ids, times, messages)
        load_taken(rule, ids, watermark)
        log(f"  seeded {ids[-1] - first + 1:,}/{count:,} ({time.perf_counter() - began:.0f} s)")
    reset_sequences()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a live store has statistics; a freshly seeded one not yet


def max_session_id(chatbot_id: int) -> int:
    from django.db.models import Max

    from evalloop.chat.models import Session

    top = Session.objects.filter(chatbot_id=chatbot_id).aggregate(top=Max("id"))["top"]
    return top or chatbot_id * ID_STRIDE


def spread(
    ids: range, first: int, count: int, start: datetime, end: datetime
) -> dict[int, datetime]:
    """Creation times spread evenly from `start` to an hour before `end`, in id order."""
    span = (end - timedelta(hours=1) - start) / max(count, 1)
    return {pk: start + span * (pk - first) for pk in ids}


def load_sessions(chatbot: Any, ids: range, times: dict[int, datetime], messages: int) -> None:
    from evalloop.chat.models import Message, Session

    def session(pk: int) -> dict[str, Any]:
        at = times[pk]
        done = at + timedelta(minutes=messages)
        return {
            "id": pk,
            "team_id": chatbot.team_id,
            "chatbot_id": chatbot.pk,
            "external_id": f"s-{pk}",
            "participant": f"p-{pk % 97}",
            "channel": "web",
            "version": "v3",
            "state": {"step": pk % 4},
            "participant_data": {"plan": "pro" if pk % 3 else "free"},
            "message_count": messages,
            "created_at": at,
            "last_message_at": done,
            "ended_at": done,
            "changed_at": done,
        }

    def message(pk: int, m: int) -> dict[str, Any]:
        return {
            "id": pk * 10 + m,
            "session_id": pk,
            "role": "human" if m % 2 == 0 else "ai",
            "content": f"Turn {m} of s-{pk}: " + "lorem ipsum dolor sit amet " * 4,
            "created_at": times[pk] + timedelta(minutes=m),
            "metadata": {"model": "m-1"} if m % 2 else {},
            "external_id": None,
        }

    load(Session, (session(pk) for pk in ids))
    load(Message, (message(pk, m) for pk in ids for m in range(messages)))


def load_taken(rule: Any, ids: range, at: datetime) -> None:
    """What a caught-up rule left: a row per session, and its ledger entry."""
    from evalloop.autopopulate.models import Entry
    from evalloop.datasets.models import Row

    history = [{"role": "human", "content": "hi", "created_at": at.isoformat()}]
    row_base, entry_base = next_id(Row) - ids[0], next_id(Entry) - ids[0]

    def row(pk: int) -> dict[str, Any]:
        return {
            "id": row_base + pk,
            "dataset_id": rule.dataset_id,
            "input": "",
            "output": "",
            "history": history,
            "context": {"tags": [], "session": f"s-{pk}"},
            "participant_data": {},
            "state": {},
            "expected_output": "",
            "origin": "rule",
            "source_session_id": pk,
            "source_human_message_id": None,
            "source_ai_message_id": None,
            "rule_id": rule.pk,
            "created_at": at,
            "edited_at": None,
        }

    load(Row, (row(pk) for pk in ids))
    entries = (
        {"id": entry_base + pk, "rule_id": rule.pk, "session_key": pk, "message_key": 0}
        | {"row_id": row_base + pk}
        | {"created_at": at}
        for pk in ids
    )
    load(Entry, entries)


def next_id(model: Any) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1


def load(model: Any, records: Iterable[dict[str, Any]]) -> None:
    """Bulk-load `records` (column -> value): COPY on PostgreSQL, executemany on SQLite."""
    from django.db import connection, transaction
    from django.db.models import JSONField

    fields = list(model._meta.concrete_fields)
    columns = [f.column for f in fields]
    convert = [value_converter(f, connection, JSONField) for f in fields]
    table = model._meta.db_table
    values = (
        [c(record[col]) for c, col in zip(convert, columns, strict=True)] for record in records
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join("%s" for _ in columns)
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values
            )


def value_converter(field: Any, connection: Any, json_field: type) -> Callable[[Any], Any]:
    if isinstance(field, json_field):
        return json.dumps
    if connection.vendor == "sqlite" and field.get_internal_type() == "DateTimeField":
        return connection.ops.adapt_datetimefield_value
    return lambda value: value


def reset_sequences() -> None:
    from django.core.management.color import no_style
    from django.db import connection

    from evalloop.autopopulate.models import Entry
    from evalloop.chat.models import Message, Session
    from evalloop.datasets.models import Row

    statements = connection.ops.sequence_reset_sql(no_style(), [Session, Message, Row, Entry])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def arrive(chatbot: Any, count: int, now: datetime) -> None:
    """`count` sessions of 6 messages that ended during the last tick interval."""
    from evalloop.chat.models import Session

    first = max_session_id(chatbot.pk) + 1
    ids = range(first, first + count)
    began = now - TICK_INTERVAL
    times = {pk: began + (TICK_INTERVAL / 2) * (pk - first) / count for pk in ids}
    load_sessions(chatbot, ids, times, MESSAGES)
    # The traffic services stamp the clock at commit time, so the newest lands just before now.
    Session.objects.filter(id__in=ids).update(changed_at=now - timedelta(seconds=1))


# Measurements


def measure_steady(repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from evalloop.autopopulate import tick
    from evalloop.autopopulate.models import Rule

    rule = Rule.objects.select_related("chatbot").get(chatbot__slug="live")
    now = clock()
    steady = []
    for index in range(repeat + 1):
        now += TICK_INTERVAL
        arrive(rule.chatbot, NEW_SESSIONS, now)
        took, summaries = timed(lambda at=now: tick.tick(now=at))
        assert summaries[0].counts.appended == NEW_SESSIONS, summaries
        if index:  # the first warms the connection and the caches
            steady.append(took)
    noop = []
    for _ in range(repeat):
        now += TICK_INTERVAL
        took, summaries = timed(lambda at=now: tick.tick(now=at))
        assert summaries[0].counts.appended == 0, summaries
        noop.append(took)
    now += TICK_INTERVAL
    with CaptureQueriesContext(connection) as queries:
        tick.tick(now=now)
    return {
        "steady_ms": statistics.median(steady),
        "noop_ms": statistics.median(noop),
        "noop_queries": len(queries.captured_queries),
    }


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    answer = work()
    return (time.perf_counter() - began) * 1000, answer


def measure_backfill(size: int) -> dict[str, Any]:
    from evalloop.autopopulate import tick

    began = time.perf_counter()
    rule = seed_backfill(size)
    seed_s = time.perf_counter() - began
    locks = LockWatch(tick)
    now = clock()
    parts: dict[str, Any] = {}
    total = {"ticks": 0, "appended": 0, "seconds": 0.0, "lock_ms": 0.0, "batches": 0}
    while True:
        locks.reset()
        took, summary = timed(lambda: tick.tick_rule(rule_id=rule.pk, now=now))
        if summary.counts.appended == 0:
            break
        total["ticks"] += 1
        total["appended"] += summary.counts.appended
        total["seconds"] += took / 1000
        total["lock_ms"] = max(total["lock_ms"], locks.longest)
        total["batches"] += locks.batches
        if "first" not in parts:
            parts["first"] = {**total}
        log(f"  tick {total['ticks']}: {summary.counts.appended} in {took:.0f} ms")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**parts, "all": total, "seed_s": seed_s, "peak_mb": peak_mb}


def seed_backfill(size: int) -> Any:
    from django.db import connection

    setup_live()
    start_at = datetime.now(UTC) - timedelta(days=8)
    rule = make_rule(bench_team(), "archive", start_at=start_at)
    first = max_session_id(rule.chatbot_id) + 1
    end = datetime.now(UTC)
    for start in range(first, first + size, LOAD_BATCH):
        ids = range(start, min(start + LOAD_BATCH, first + size))
        load_sessions(rule.chatbot, ids, spread(ids, first, size, start_at, end), MESSAGES)
        log(f"  seeded {ids[-1] - first + 1:,}/{size:,} backfill sessions")
    reset_sequences()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return rule


class LockWatch:
    """Times every per-batch transaction of the tick: from claiming the rule to the commit."""

    def __init__(self, tick: Any) -> None:
        from django.db import transaction

        self.longest = 0.0
        self.batches = 0
        claim = tick.claim_rule

        def timed_claim(rule_id: int) -> Any:
            began = time.perf_counter()
            transaction.on_commit(lambda: self.done(began))
            return claim(rule_id)

        tick.claim_rule = timed_claim

    def reset(self) -> None:
        self.longest, self.batches = 0.0, 0

    def done(self, began: float) -> None:
        self.batches += 1
        self.longest = max(self.longest, (time.perf_counter() - began) * 1000)


if __name__ == "__main__":
    main()
