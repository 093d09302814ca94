"""Traffic ingestion while bulk work writes: throughput and errors of `POST /api/v1/traffic`.

    uv run python bench/contention.py                 # SQLite
    uv run python bench/contention.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    uv run python bench/contention.py --csv-rows 10000 --import-sessions 5000

SQLite runs in a temporary data dir; with --database-url, PostgreSQL runs too, in a scratch
database created and dropped on that server. Nothing touches the developer's data dir or
databases.

Ingestion runs alone for a few seconds before and after (the idle figure, both sides, as
the machine's load drifts). In between, a large CSV upload (`POST /datasets/{id}/csv`) and a
large import by filter (`POST /datasets/{id}/import`, run as its background job in a worker
of its own) run in two other processes, and ingestion goes on until both have finished.
Each process is its own Django, as the web server and a worker are. Ingestion sends batches
of 10 sessions x 10 messages through the whole request path (Django's test client); a 503
is retried after its Retry-After, anything else that is not a 200 is an error. At the end
every message sent must be stored exactly once. Rerunnable; prints a Markdown table row per
database, and on stderr where the ingesting process spent its time (CPU, waiting for the
SQLite write lock) and how long the bulk work's transactions held the lock.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch import scratch_environment

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "evalloop_bench_contention"
SESSIONS_PER_BATCH = 10
MESSAGES_PER_SESSION = 10
SEED_MESSAGES = 6
SEED_BATCH = 5_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a postgres:// server to also measure on")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--csv-rows", type=int, default=40_000, help="rows of the upload")
    parser.add_argument("--import-sessions", type=int, default=20_000, help="in message mode")
    parser.add_argument("--child", choices=["bench", "upload", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--arg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(
        "| database | idle messages/s | messages/s during bulk work | ratio | 503 (retried) "
        "| errors | lost, duplicated | CSV upload | import |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    databases = ["sqlite"] + (["postgres"] if args.database_url else [])
    if args.database_url:
        os.environ["BENCH_POSTGRES_URL"] = args.database_url
    for db in databases:
        with scratch_environment(db, SCRATCH_DB) as env:
            env["CELERY_TASK_ALWAYS_EAGER"] = "true"  # the import job runs in its process
            command = [sys.executable, __file__, *sys.argv[1:], "--child=bench"]
            subprocess.run(command, env=env, cwd=ROOT, check=True)


# Children


def child(args: Any) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.child == "bench":
        bench(args)
        return
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(bulk(args.child, json.loads(args.arg))), flush=True)


def bench(args: Any) -> None:
    from django.db import connection

    setup = prepare(args)
    with tempfile.TemporaryDirectory(prefix="evalloop-bench-csv-") as folder:
        setup["csv"] = write_csv(Path(folder) / "rows.csv", args.csv_rows)
        sender = Sender(setup["key"])
        before = sender.run(until=lambda: sender.elapsed() >= args.idle_seconds)
        workers = [spawn(what, setup) for what in ("upload", "import")]
        for worker in workers:  # set up, waiting for the word
            assert worker.stdout
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin
            worker.stdin.write("go\n")
            worker.stdin.flush()
        busy = sender.run(until=lambda: all(w.poll() is not None for w in workers))
        outcomes = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
        after = sender.run(until=lambda: sender.elapsed() >= args.idle_seconds)
    idle = before + after  # the machine's load drifts: idle is measured on both sides
    lost, duplicated = sender.check()
    upload, imported = outcomes
    print(
        f"| {connection.vendor} | {idle.rate:,.0f} | {busy.rate:,.0f} "
        f"| {busy.rate / idle.rate:.2f} | {idle.retried + busy.retried} "
        f"| {idle.errors + busy.errors} | {lost}, {duplicated} "
        f"| {upload['rows']:,} rows in {upload['seconds']:.1f} s ({upload['status']}) "
        f"| {imported['rows']:,} rows in {imported['seconds']:.1f} s ({imported['status']}) |",
        flush=True,
    )
    print(f"    idle: {idle}\n    during bulk work: {busy}", file=sys.stderr)
    for what, outcome in zip(("upload", "import"), outcomes, strict=True):
        held = sorted(outcome["held"]) or [0.0]
        print(
            f"    {what}: {len(held)} transactions, median {held[len(held) // 2]:.3f} s, "
            f"max {held[-1]:.3f} s",
            file=sys.stderr,
        )
    for error in (idle.samples + busy.samples)[:5]:
        print(f"    error: {error}", file=sys.stderr)


def spawn(what: str, setup: dict[str, Any]) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, f"--child={what}", f"--arg={json.dumps(setup)}"]
    return subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def prepare(args: Any) -> dict[str, Any]:
    from django.core.management import call_command

    from evalloop.chat.services import create_chatbot
    from evalloop.datasets.services import create_dataset
    from evalloop.teams import services
    from evalloop.teams.models import User

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench@example.com", "bench-password-1")
    team = services.create_team(slug="bench", name="Bench", owner=owner)
    create_chatbot(team=team, slug="bench-bot", name="Bench bot")
    seed(create_chatbot(team=team, slug="seed-bot", name="Seed bot"), args.import_sessions)
    return {
        "key": services.create_api_key(team=team, name="bench").plaintext,
        "csv_dataset": create_dataset(team=team, name="Uploaded", mode="session").pk,
        "import_dataset": create_dataset(team=team, name="Imported", mode="message").pk,
    }


def seed(chatbot: Any, size: int) -> None:
    from django.db import transaction

    from evalloop.chat.models import Message, Session

    began = datetime(2024, 5, 1, tzinfo=UTC)
    for start in range(0, size, SEED_BATCH):
        with transaction.atomic():
            sessions = Session.objects.bulk_create(
                Session(
                    team=chatbot.team,
                    chatbot=chatbot,
                    external_id=f"s-{start + i}",
                    message_count=SEED_MESSAGES,
                    created_at=began,
                    last_message_at=began + timedelta(minutes=SEED_MESSAGES),
                )
                for i in range(min(SEED_BATCH, size - start))
            )
            Message.objects.bulk_create(
                (
                    Message(
                        session=session,
                        role="human" if m % 2 == 0 else "ai",
                        content=f"Turn {m}: " + "lorem ipsum dolor sit amet " * 4,
                        created_at=began + timedelta(minutes=m),
                    )
                    for session in sessions
                    for m in range(SEED_MESSAGES)
                ),
                batch_size=2_000,
            )


def write_csv(path: Path, rows: int) -> str:
    history = json.dumps([{"role": "human", "content": "lorem ipsum dolor sit amet " * 4}] * 2)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["input", "output", "history", "context.topic", "state.step"])
        for n in range(rows):
            text = f"Row {n}: " + "lorem ipsum dolor sit amet " * 3
            writer.writerow([text, text.upper(), history, f"topic-{n % 17}", str(n % 5)])
    return str(path)


def bulk(what: str, setup: dict[str, Any]) -> dict[str, Any]:
    from django.test import Client

    from evalloop.datasets.models import ImportJob

    client = Client(HTTP_AUTHORIZATION=f"Bearer {setup['key']}")
    held = time_transactions()
    began = time.perf_counter()
    if what == "upload":
        with open(setup["csv"], "rb") as f:
            response = client.post(f"/api/v1/datasets/{setup['csv_dataset']}/csv", {"file": f})
        rows = response.json().get("rows_added", 0) if response.status_code == 200 else 0
    else:
        body = {"chatbot": "seed-bot", "filter": []}
        path = f"/api/v1/datasets/{setup['import_dataset']}/import"
        response = client.post(path, body, content_type="application/json")
        job = ImportJob.objects.filter(dataset_id=setup["import_dataset"]).first()
        rows = job.rows_added if job else 0
        if job and job.status != "done":
            return {"rows": rows, "seconds": 0, "status": f"job {job.status}: {job.error}"}
    seconds = time.perf_counter() - began
    return {"rows": rows, "seconds": seconds, "status": response.status_code, "held": held}


def time_transactions() -> list[float]:
    """Record how long each write transaction of the bulk work lasts (the lock is held)."""
    from evalloop.datasets import jobs, services

    held: list[float] = []
    for module, name in ((services, "_write_csv_batch"), (jobs, "_write_piece")):
        real = getattr(module, name)

        def timed(*args: Any, real: Any = real) -> Any:
            began = time.perf_counter()
            try:
                return real(*args)
            finally:
                held.append(time.perf_counter() - began)

        setattr(module, name, timed)
    return held


class Phase:
    def __init__(self) -> None:
        self.messages = 0
        self.seconds = 0.0
        self.retried = 0
        self.errors = 0
        self.samples: list[str] = []
        self.cpu = 0.0
        self.waiting = 0.0  # seconds spent starting write transactions, i.e. on the lock

    def time_begin(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not sql.startswith("BEGIN"):
            return execute(sql, params, many, context)
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.waiting += time.perf_counter() - began

    def __str__(self) -> str:
        return (
            f"{self.rate:,.0f} messages/s over {self.seconds:.1f} s, CPU {self.cpu:.1f} s, "
            f"waiting for the write lock {self.waiting:.1f} s"
        )

    def __add__(self, other: Phase) -> Phase:
        both = Phase()
        for name in ("messages", "seconds", "retried", "errors", "samples", "cpu", "waiting"):
            setattr(both, name, getattr(self, name) + getattr(other, name))
        return both

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


class Sender:
    """Sends numbered batches, each until it is stored, and knows what it sent."""

    def __init__(self, key: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.sent = 0
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def run(self, until: Any) -> Phase:
        from django.db import connection

        phase = Phase()
        self.started = time.perf_counter()
        cpu = time.process_time()
        with connection.execute_wrapper(phase.time_begin):
            while not until():
                self.send(self.sent, phase)
                self.sent += 1
                phase.messages += SESSIONS_PER_BATCH * MESSAGES_PER_SESSION
        phase.seconds = self.elapsed()
        phase.cpu = time.process_time() - cpu
        return phase

    def send(self, n: int, phase: Phase) -> None:
        body = batch(n)
        while True:
            try:
                response = self.client.post(
                    "/api/v1/traffic", body, content_type="application/json"
                )
            except Exception as exc:  # the test client re-raises what would be a 500
                phase.errors += 1
                phase.samples.append(f"{type(exc).__name__}: {exc}")
                time.sleep(1)
                continue
            if response.status_code == 200:
                return
            if response.status_code == 503:
                phase.retried += 1
                time.sleep(int(response["Retry-After"]))
                continue
            phase.errors += 1
            phase.samples.append(f"{response.status_code}: {response.content[:200]!r}")
            time.sleep(1)

    def check(self) -> tuple[int, int]:
        """Answer how many sent messages are missing, and how many are stored twice."""
        from django.db.models import Count

        from evalloop.chat.models import Message

        stored = Message.objects.filter(session__chatbot__slug="bench-bot")
        expected = self.sent * SESSIONS_PER_BATCH * MESSAGES_PER_SESSION
        twice = stored.values("session_id", "external_id").annotate(n=Count("id")).filter(n__gt=1)
        distinct = stored.values("session_id", "external_id").distinct().count()
        return expected - distinct, twice.count()


def batch(n: int) -> bytes:
    start = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=n)
    sessions = [
        {
            "chatbot": "bench-bot",
            "external_id": f"b{n}-s{s}",
            "participant": f"p-{s}",
            "tags": ["vip"] if s % 5 == 0 else [],
            "messages": [
                {
                    "external_id": f"m-{m}",
                    "role": "human" if m % 2 == 0 else "ai",
                    "content": f"Message {m} of session {s}: " + "lorem ipsum dolor sit amet " * 4,
                    "created_at": (start + timedelta(seconds=m)).isoformat(),
                }
                for m in range(MESSAGES_PER_SESSION)
            ],
        }
        for s in range(SESSIONS_PER_BATCH)
    ]
    return json.dumps({"sessions": sessions}).encode()


if __name__ == "__main__":
    main()
