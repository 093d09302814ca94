"""Throughput of `POST /api/v1/traffic`: messages per second, and SQL queries per batch.

    uv run python bench/ingest.py                     # SQLite and PostgreSQL
    uv run python bench/ingest.py --db sqlite --batches 50

Each database is measured in a child process with its own settings: SQLite in a temporary
data dir, PostgreSQL in a scratch database created and dropped here, on the server that
BENCH_POSTGRES_URL names (default postgres://postgres@127.0.0.1:5432/postgres). Nothing
touches the developer's data dir or databases.

Requests go through Django's test client, in process: the whole request path (middleware,
API key check, JSON parsing and validation, ingestion, the JSON answer) without a socket.
Bodies are serialized before the clock starts. Rerunnable; prints a Markdown table row per
database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch import scratch_environment

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "evalloop_bench_ingest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--batches", type=int, default=20, help="timed batches per database")
    parser.add_argument("--sessions", type=int, default=100, help="sessions per batch")
    parser.add_argument("--messages", type=int, default=10, help="messages per session")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args)
        return
    print("| database | batch | messages/s new | messages/s resent | queries/batch new, resent |")
    print("| --- | --- | --- | --- | --- |")
    for db in args.db.split(","):
        run_child(db.strip(), sys.argv[1:])


def run_child(db: str, argv: list[str]) -> None:
    with scratch_environment(db, SCRATCH_DB) as env:
        command = [sys.executable, __file__, *argv, "--child", "--db", db]
        subprocess.run(command, env=env, cwd=ROOT, check=True)


def batch(n: int, sessions: int, messages: int) -> bytes:
    start = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(hours=n)
    items = []
    for s in range(sessions):
        turns = [
            {
                "external_id": f"m-{m}",
                "role": "human" if m % 2 == 0 else "ai",
                "content": f"Message {m} of session {s}: " + "lorem ipsum dolor sit amet " * 4,
                "created_at": (start + timedelta(seconds=m)).isoformat(),
                "tags": ["needs-review"] if m == 3 else [],
            }
            for m in range(messages)
        ]
        items.append(
            {
                "chatbot": "bench-bot",
                "external_id": f"b{n}-s{s}",
                "participant": f"p-{s % 97}",
                "channel": "web",
                "version": "v3",
                "participant_data": {"plan": "pro" if s % 3 else "free"},
                "tags": ["vip"] if s % 5 == 0 else [],
                "messages": turns,
            }
        )
    return json.dumps({"sessions": items}).encode()


def measure(args: Any) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from evalloop.chat.services import create_chatbot
    from evalloop.teams import services
    from evalloop.teams.models import User

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench@example.com", "bench-password-1")
    team = services.create_team(slug="bench", name="Bench", owner=owner)
    create_chatbot(team=team, slug="bench-bot", name="Bench bot")
    key = services.create_api_key(team=team, name="bench").plaintext
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(body: bytes) -> None:
        response = client.post("/api/v1/traffic", body, content_type="application/json")
        assert response.status_code == 200, response.content[:500]

    bodies = [batch(n, args.sessions, args.messages) for n in range(args.batches + 1)]
    post(bodies[0])  # warm-up: first request, caches, the key's last use
    reset_queries()  # the capture counts from here
    with CaptureQueriesContext(connection) as captured:
        post(bodies[0])
    resent_queries = len(captured)  # read now: the next request clears the log
    with CaptureQueriesContext(connection) as captured:
        post(bodies[1])
    new_queries = len(captured)
    new = timed(post, bodies[2:])
    resent = timed(post, bodies[2:])
    per_batch = args.sessions * args.messages
    print(
        f"| {connection.vendor} | {args.sessions} x {args.messages} "
        f"| {per_batch / new:,.0f} | {per_batch / resent:,.0f} "
        f"| {new_queries}, {resent_queries} |",
        flush=True,
    )


def timed(post: Any, bodies: list[bytes]) -> float:
    """Answer the median seconds per batch."""
    seconds = []
    for body in bodies:
        start = time.perf_counter()
        post(body)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


if __name__ == "__main__":
    main()
