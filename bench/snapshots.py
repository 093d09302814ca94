"""Importing traffic into datasets: rows per second and peak memory, by size and mode.

    uv run python bench/snapshots.py                  # 10k and 100k, both modes and databases
    uv run python bench/snapshots.py --db sqlite --sizes 10000

For each database a scratch store is made here: SQLite in a temporary data dir, PostgreSQL in
a scratch database created and dropped on the server that BENCH_POSTGRES_URL names (default
postgres://postgres@127.0.0.1:5432/postgres). Nothing touches the developer's data dir or
databases. Each size is seeded once (sessions of 6 messages, every tenth session tagged),
then every (size, mode) import runs in a fresh child process, so its peak RSS is its own.

The import runs the way a large import runs in production: an import job done chunk by
chunk (`evalloop.datasets.jobs.run_import_job`), each chunk committed with its progress.
Rerunnable; prints a Markdown table. The machine's load average is printed beside each
result: on a busy machine the importing process and the database share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch import scratch_environment

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "evalloop_bench_snapshots"
MESSAGES_PER_SESSION = 6
SEED_BATCH = 5_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--sizes", default="10000,100000", help="sessions per import")
    parser.add_argument("--modes", default="session,message")
    parser.add_argument("--child", choices=["seed", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(
        "| database | sessions | mode | rows | seconds | rows/s | sessions/s | peak RSS (MB) "
        "| load avg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for db in args.db.split(","):
        with scratch_environment(db.strip(), SCRATCH_DB) as env:
            for size in [int(s) for s in args.sizes.split(",")]:
                spawn(env, "seed", size=size)
                for mode in args.modes.split(","):
                    result = json.loads(spawn(env, "import", size=size, mode=mode))
                    print(row(db, size, mode, result), flush=True)


def row(db: str, size: int, mode: str, result: dict[str, Any]) -> str:
    seconds = result["seconds"]
    return (
        f"| {db} | {size:,} | {mode} | {result['rows']:,} | {seconds:.1f} | "
        f"{result['rows'] / seconds:,.0f} | {size / seconds:,.0f} | {result['peak_mb']:.0f} | "
        f"{os.getloadavg()[0]:.1f} |"
    )


def spawn(env: dict[str, str], what: str, **options: Any) -> str:
    flags = [f"--{name}={value}" for name, value in options.items()]
    command = [sys.executable, __file__, f"--child={what}", *flags]
    done = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


# Children


def child(args: Any) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.child == "seed":
        seed(args.size)
    else:
        print(json.dumps(measure(args.size, args.mode)))


def seed(size: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from evalloop.chat.models import Chatbot
    from evalloop.teams.models import Team

    call_command("migrate", verbosity=0)
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    chatbot = Chatbot.objects.create(team=team, slug=f"bench-{size}", name=f"Bench {size}")
    for start in range(0, size, SEED_BATCH):
        seed_batch(chatbot, start, min(SEED_BATCH, size - start))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a live store has statistics; a freshly seeded one not yet


def seed_batch(chatbot: Any, start: int, count: int) -> None:
    from django.db import transaction

    from evalloop.chat.models import Message, Session, SessionTag, Tag

    tag, _ = Tag.objects.get_or_create(team=chatbot.team, name="vip")
    began = datetime(2024, 5, 1, tzinfo=UTC)
    with transaction.atomic():
        sessions = Session.objects.bulk_create(
            Session(
                team=chatbot.team,
                chatbot=chatbot,
                external_id=f"s-{start + i}",
                participant=f"p-{(start + i) % 97}",
                channel="web",
                version="v3",
                state={"step": i % 4},
                participant_data={"plan": "pro" if i % 3 else "free"},
                message_count=MESSAGES_PER_SESSION,
                created_at=began,
                last_message_at=began + timedelta(minutes=MESSAGES_PER_SESSION),
            )
            for i in range(count)
        )
        Message.objects.bulk_create(
            (
                message(session, m, began)
                for session in sessions
                for m in range(MESSAGES_PER_SESSION)
            ),
            batch_size=2_000,
        )
        SessionTag.objects.bulk_create(
            SessionTag(session=session, tag=tag) for session in sessions[::10]
        )


def message(session: Any, m: int, began: datetime) -> Any:
    from evalloop.chat.models import Message

    return Message(
        session=session,
        role="human" if m % 2 == 0 else "ai",
        content=f"Turn {m} of {session.external_id}: " + "lorem ipsum dolor sit amet " * 4,
        created_at=began + timedelta(minutes=m),
        metadata={"model": "m-1"} if m % 2 else {},
    )


def measure(size: int, mode: str) -> dict[str, Any]:
    from evalloop.chat.models import Chatbot
    from evalloop.datasets import jobs
    from evalloop.datasets.models import Dataset, ImportJob

    chatbot = Chatbot.objects.get(slug=f"bench-{size}")
    dataset = Dataset.objects.create(team=chatbot.team, name=f"{mode} {size}", mode=mode)
    job = ImportJob.objects.create(
        dataset=dataset, params={"chatbot_id": chatbot.pk, "filter": []}, total=size
    )
    began = time.perf_counter()
    jobs.run_import_job(job_id=job.pk)
    seconds = time.perf_counter() - began
    job.refresh_from_db()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": job.rows_added, "seconds": seconds, "peak_mb": peak_kb / 1024}


if __name__ == "__main__":
    main()
