"""How soon `evalloop demo` shows continuous evaluation, from the command's start.

    uv run python bench/demo_start.py                 # SQLite, the embedded broker
    uv run python bench/demo_start.py --db postgres   # PostgreSQL and Redis

Starts `evalloop demo` with its default settings (tick 30 s) on a fresh temporary data dir
(with `--db postgres`, a scratch database on the server that BENCH_POSTGRES_URL names, and
the Redis that REDIS_URL names, default redis://127.0.0.1:6379/15), reads the API key it
prints, and polls the API. Prints, in seconds from the start of the command: the server
answering, the first row of each demo dataset, and the first completed delta run of each
auto-running config. Environment variables (EVALLOOP_TICK_SECONDS, ...) reach it unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_environment  # noqa: E402

from tests.processes import EVALLOOP, free_port  # noqa: E402
from tests.running import Api  # noqa: E402

SCRATCH_DB = "evalloop_bench_demo"
POLL_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--limit", type=float, default=300.0, help="longest wait, in seconds")
    args = parser.parse_args()
    with scratch_environment(args.db, SCRATCH_DB) as env, tempfile.TemporaryDirectory() as log:
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        if args.db == "postgres":
            env["CELERY_BROKER_URL"] = _empty_redis()
        port = free_port()
        out = Path(log) / "demo.log"
        started = time.monotonic()
        with out.open("wb") as sink:
            demo = subprocess.Popen(
                [*EVALLOOP, "demo", "--port", str(port)], env=env, stdout=sink, stderr=sink
            )
        try:
            seen = watch(f"http://127.0.0.1:{port}", out, started, args.limit)
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=60)
    for what, when in seen.items():
        print(f"{when:6.1f} s  {what}")


def _empty_redis() -> str:
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    redis.Redis.from_url(url).delete("celery", "unacked", "unacked_index")
    return url


def _key(out: Path) -> str | None:
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("API key: "):
            return line.removeprefix("API key: ")
    return None


def watch(url: str, out: Path, started: float, limit: float) -> dict[str, float]:
    """Answer when each milestone was first seen, in seconds since `started`."""
    seen: dict[str, float] = {}
    api: Api | None = None
    wanted = 1 + 2 + 2  # the server, each dataset's first row, each auto config's first run
    while len(seen) < wanted and time.monotonic() - started < limit:
        key = _key(out)
        if api is None and key:
            api = Api(url, key)
        if api is not None:
            # Not serving yet, or busy: look again.
            with contextlib.suppress(OSError, RuntimeError):
                _look(api, seen, time.monotonic() - started)
        time.sleep(POLL_SECONDS)
    return seen


def _look(api: Api, seen: dict[str, float], now: float) -> None:
    datasets = api.get("/datasets")["items"]
    seen.setdefault("server answers the API", now)
    for dataset in datasets:
        if dataset["row_count"]:
            seen.setdefault(f"first row in {dataset['name']}", now)
    for config in api.get("/configs")["items"]:
        if config["auto_run_on_append"] and _completed_delta(api, config):
            seen.setdefault(f"first delta run completed: {config['name']}", now)


def _completed_delta(api: Api, config: dict[str, Any]) -> bool:
    items = api.get(f"/configs/{config['id']}/runs?limit=100")["items"]
    return any(run["type"] == "delta" and run["status"] == "completed" for run in items)


if __name__ == "__main__":
    main()
