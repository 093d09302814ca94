"""Helpers for tests that run evalloop's own processes: isolated environments, process trees.

`evalloop_up` starts a real `evalloop up` (server, worker and beat) on a free port with a data
dir of its own; `Server.stop` presses Ctrl-C and answers the exit code and what is left, and
`Server.stop_cleanly` fails unless `up` exits with 0 and leaves no process behind;
`suite_store` gives such a server the suite's kind of database and broker, never its own.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The console script itself, as installed by `uv sync`.
EVALLOOP = [str(Path(sys.executable).with_name("evalloop"))]
START_SECONDS = 90
STOP_SECONDS = 60


def environ(data_dir: Path, **overrides: str) -> dict[str, str]:
    """Answer an environment for an evalloop process of its own, on SQLite in `data_dir`.

    The suite's DATABASE_URL and CELERY_BROKER_URL are dropped, so that a server or worker
    started by a test never touches the suite's database or another test's queue.
    """
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    return {**base, "EVALLOOP_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", **overrides}


def _parent_of(pid: str) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[1]


def descendants(pid: int) -> set[int]:
    """Answer the pids of every process below `pid` (Linux)."""
    children: dict[str, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (parent := _parent_of(entry)) is not None:
            children.setdefault(parent, []).append(entry)
    found: set[int] = set()
    todo = [str(pid)]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(int(child))
            todo.append(child)
    return found


def gone(pid: int) -> bool:
    """Answer whether `pid` has ended (a zombie awaiting its reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until(predicate: Callable[[], object], *, timeout: float, every: float = 0.1) -> bool:
    """Answer whether `predicate` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running `evalloop up`."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def cli(self, *args: str) -> str:
        """Run `evalloop <args>` on this server's data; answer its output."""
        done = subprocess.run(
            [*EVALLOOP, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"evalloop {' '.join(args)}: {done.stderr}")
        return done.stdout

    def serves(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/login/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> tuple[int, set[int]]:
        """Press Ctrl-C; answer the exit code and the processes still alive after it."""
        started = descendants(self.process.pid)
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        wait_until(lambda: all(gone(pid) for pid in started), timeout=5)
        return code, {pid for pid in started if not gone(pid)}

    def stop_cleanly(self) -> None:
        """Press Ctrl-C; fail unless `up` exits with 0 and leaves no process behind."""
        code, left = self.stop()
        assert code == 0, f"evalloop up exited with {code}:\n{self.tail()}"
        assert not left, f"evalloop up left processes behind: {sorted(left)}"


@contextmanager
def evalloop_up(
    data_dir: Path, *args: str, command: str = "up", **overrides: str
) -> Iterator[Server]:
    """Run `evalloop up` (or `command`, e.g. demo, with `args`) on `data_dir`.

    SQLite and the embedded broker unless overridden.
    """
    port = free_port()
    env = environ(data_dir, **overrides)
    log = data_dir / f"{command}.log"
    argv = [*EVALLOOP, command, "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    up = Server(f"http://127.0.0.1:{port}", data_dir, env, process, log)
    try:
        ready = wait_until(lambda: process.poll() is not None or up.serves(), timeout=START_SECONDS)
        if not ready or process.poll() is not None:
            raise RuntimeError(f"evalloop {command} did not start:\n{up.tail()}")
        yield up
    finally:
        if process.poll() is None:
            up.stop()


def _scratch_database(url: str, *, create: bool) -> None:
    import psycopg

    admin, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _empty_queues(url: str) -> None:
    """Drop what a server's worker left on the suite's Redis (ETA tasks come back unacked)."""
    import redis

    redis.Redis.from_url(url).delete("celery", "unacked", "unacked_index")


@contextmanager
def suite_store(suffix: str) -> Iterator[dict[str, str]]:
    """Answer overrides for `evalloop_up` that follow the suite's store, never the suite's own.

    On PostgreSQL the server gets a scratch database named after the suite's plus `_<suffix>`,
    dropped at the end; on Redis it shares the suite's broker, emptied before and after, so
    only one such server may run at a time. On SQLite and the embedded broker: no overrides.
    """
    database = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    overrides: dict[str, str] = {}
    if database.startswith("postgres"):
        overrides["DATABASE_URL"] = f"{database.rsplit('?', 1)[0]}_{suffix}"
        _scratch_database(overrides["DATABASE_URL"], create=True)
    if broker.startswith("redis"):
        overrides["CELERY_BROKER_URL"] = broker
        overrides["SECRET_KEY"] = secrets.token_urlsafe(50)
        _empty_queues(broker)
    try:
        yield overrides
    finally:
        if "DATABASE_URL" in overrides:
            _scratch_database(overrides["DATABASE_URL"], create=False)
        if broker.startswith("redis"):
            _empty_queues(broker)
