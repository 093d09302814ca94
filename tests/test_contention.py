"""Traffic keeps flowing while a large CSV upload and a large import write, on both databases.

Another process works on a real database (on SQLite a file, in WAL mode, as `evalloop up`
runs it) with three threads, each with its own connection: one sends traffic, one uploads
a CSV, one imports a chatbot's sessions as a background job. Every traffic request is
stored or answered 503, and once the 503s are retried every message is stored exactly once.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets import services as datasets
from evalloop.datasets.models import Mode
from evalloop.teams import services as teams
from tests import contention

ROOT = Path(__file__).resolve().parent.parent
CSV_ROWS = 1_000
IMPORT_SESSIONS = 2_100  # past LARGE_IMPORT_SOURCES: a background job


def seed(team) -> None:
    chatbot = ChatbotFactory(team=team, slug="seed")
    began = datetime(2024, 5, 1, tzinfo=UTC)
    sessions = Session.objects.bulk_create(
        Session(team=team, chatbot=chatbot, external_id=f"s-{n}", created_at=began)
        for n in range(IMPORT_SESSIONS)
    )
    Message.objects.bulk_create(
        Message(session=s, role=role, content="hi", created_at=began + timedelta(seconds=m))
        for s in sessions
        for m, role in enumerate(("human", "ai"))
    )


def write_csv(path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["input", "output", "context.topic"])
        writer.writerows([f"question {n}", f"answer {n}", "billing"] for n in range(CSV_ROWS))


def database_url(folder: Path) -> str:
    """A URL of the test database that other processes can open."""
    if connection.vendor == "sqlite":
        # The suite's SQLite database lives in memory: copy it to a file they share.
        path = folder / "db.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
        target.close()
        return f"sqlite:///{path}"
    params = connection.settings_dict
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{auth}@{params['HOST']}:{params['PORT'] or 5432}/{params['NAME']}"


def run_elsewhere(setup: dict, env: dict[str, str]) -> dict:
    command = [sys.executable, "-m", "tests.contention", json.dumps(setup)]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.django_db(transaction=True)
def test_traffic_is_never_lost_while_a_large_upload_and_import_write(cast, tmp_path):
    ChatbotFactory(team=cast.team, slug="support")
    seed(cast.team)
    write_csv(tmp_path / "rows.csv")
    setup = {
        "key": teams.create_api_key(team=cast.team, name="traffic").plaintext,
        "csv": str(tmp_path / "rows.csv"),
        "csv_dataset": datasets.create_dataset(team=cast.team, name="Up", mode=Mode.SESSION).pk,
        "import_dataset": datasets.create_dataset(team=cast.team, name="In", mode=Mode.MESSAGE).pk,
    }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(tmp_path),
        "EVALLOOP_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": settings.SECRET_KEY,  # API keys are checked with it
        "CELERY_TASK_ALWAYS_EAGER": "true",  # the import job runs in its own process
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "ERROR",
    }
    outcomes = run_elsewhere(setup, env)
    sent, uploaded, imported = (outcomes[name] for name in ("traffic", "upload", "import"))

    assert set(sent["statuses"]) <= {"200", "503"}, sent
    assert sent["distinct"] == sent["expected"]  # none lost
    assert sent["twice"] == 0  # none stored twice
    answer = {"rows_added": CSV_ROWS, "rows_updated": 0, "rows_unchanged": 0}
    assert uploaded == {"status": 200, "answer": answer}
    assert imported == {"status": 202, "job": "done", "rows": IMPORT_SESSIONS}
    assert contention.MIN_BATCHES <= sent["batches"] < contention.MAX_BATCHES
