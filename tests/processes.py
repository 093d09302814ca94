"""Helpers for tests that run evalloop's own processes: isolated environments, process trees."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The console script itself, as installed by `uv sync`.
EVALLOOP = [str(Path(sys.executable).with_name("evalloop"))]


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
