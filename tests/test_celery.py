"""A task's round trip through a real worker process, on each broker evalloop supports.

The task is `clear_expired_logins`: a separate process stores an expired login session and
sends the task; the test watches the worker delete the session from the database.
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import EVALLOOP, environ, wait_until

pytestmark = pytest.mark.celery

SEND = """
from datetime import timedelta
import django
django.setup()
from django.contrib.sessions.models import Session
from django.utils import timezone
from evalloop.lib.migrate import migrate
from evalloop.web.tasks import clear_expired_logins
migrate()
Session.objects.create(
    session_key="expired", session_data="", expire_date=timezone.now() - timedelta(days=1)
)
clear_expired_logins.delay()
"""


def expired_sessions(data_dir: Path) -> int:
    try:
        with sqlite3.connect(data_dir / "db.sqlite3") as db:
            return db.execute("SELECT count(*) FROM django_session").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return -1


@pytest.fixture
def worker_on(tmp_path) -> Iterator:  # type: ignore[type-arg]
    """Answer a starter of `evalloop worker` on a broker; stop it and its pool at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**overrides: str) -> dict[str, str]:
        env = environ(tmp_path, DJANGO_SETTINGS_MODULE="config.settings", **overrides)
        worker = [*EVALLOOP, "worker", "--concurrency", "1"]
        started.append(subprocess.Popen(worker, env=env, start_new_session=True))
        return env

    yield start
    for worker in started:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(timeout=15) == 0
        finally:
            os.killpg(worker.pid, signal.SIGKILL) if worker.poll() is None else None


def round_trip(env: dict[str, str], data_dir: Path) -> None:
    subprocess.run([sys.executable, "-c", SEND], env=env, check=True, timeout=60)
    assert wait_until(lambda: expired_sessions(data_dir) == 0, timeout=20), "task never ran"


def answers_ping(env: dict[str, str]) -> bool:
    ping = [sys.executable, "-m", "celery", "--app", "config.celery:app", "inspect", "ping"]
    done = subprocess.run([*ping, "--timeout", "2"], env=env, capture_output=True, timeout=30)
    return b"pong" in done.stdout


def test_the_embedded_broker_carries_tasks_and_remote_control_to_a_worker(worker_on, tmp_path):
    env = worker_on()
    round_trip(env, tmp_path)
    assert list((tmp_path / "broker" / "queue").iterdir()) == []
    assert wait_until(lambda: answers_ping(env), timeout=20, every=0)


def _redis_url() -> str:
    configured = os.environ.get("CELERY_BROKER_URL", "")
    return configured if configured.startswith("redis") else "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    """Answer the Redis broker URL, emptied; skip when no Redis answers (but never in CI)."""
    import redis

    url = _redis_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.delete("celery")  # anything an earlier run left in the default queue
    except redis.ConnectionError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {url} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


def test_a_task_runs_on_a_worker_through_redis(worker_on, tmp_path, redis_url):
    # With Redis, processes may run on several machines: they need one configured key.
    env = worker_on(CELERY_BROKER_URL=redis_url, SECRET_KEY=secrets.token_urlsafe(50))
    round_trip(env, tmp_path)
