"""Latency of auto-population: from a session's end to its scored delta result.

    uv run python bench/latency.py                        # SQLite, the embedded broker
    uv run python bench/latency.py --db postgres          # PostgreSQL and Redis
    uv run python bench/latency.py --rate 5 --seconds 30
    uv run python bench/latency.py --url http://127.0.0.1:8000 --key <editor API key>

Starts `evalloop up` with its default settings on a temporary data dir (with `--db postgres`,
a scratch database on the server that BENCH_POSTGRES_URL names, and the Redis that REDIS_URL
names, default redis://127.0.0.1:6379/15), or targets a running server with `--url` and
`--key`. Through the API only it makes a chatbot, a session-mode dataset, a rule, a
`contains` evaluator and a config with `auto_run_on_append`. Then it sends sessions at a
steady rate, each a question and its answer, ending each one in the next request; meanwhile
it polls the config's delta runs and their results. A session's latency runs from the moment
the request ending it was sent to the creation of its result (and to the end of the delta
run holding it). Prints p50 / p95 / max and the counts: a session never scored is lost.
Environment variables (EVALLOOP_TICK_SECONDS, ...) reach the server unchanged.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_environment  # noqa: E402

from tests.processes import evalloop_up  # noqa: E402
from tests.running import Api, Setup, all_pages, auto_population, end, session  # noqa: E402
from tests.running import team_key as make_team_key  # noqa: E402

SCRATCH_DB = "evalloop_bench_latency"
POLL_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=float, default=2.0, help="sessions ended per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send")
    parser.add_argument("--drain", type=float, default=60.0, help="longest wait for the last")
    parser.add_argument("--url", help="a running server to measure instead of a new one")
    parser.add_argument("--key", help="an editor API key of the running server's team")
    args = parser.parse_args()
    if bool(args.url) != bool(args.key):
        parser.error("--url and --key go together")
    with ExitStack() as stack:
        api = stack.enter_context(_server(args)) if not args.url else Api(args.url, args.key)
        report(measure(api, args), args)


@contextmanager
def _server(args: Any) -> Iterator[Api]:
    """Run `evalloop up` on a scratch store; answer an Api with a fresh team's key."""
    with scratch_environment(args.db, SCRATCH_DB) as env, tempfile.TemporaryDirectory() as data:
        overrides = {key: env[key] for key in ("SECRET_KEY", "DATABASE_URL") if key in env}
        overrides["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        if args.db == "postgres":
            overrides["CELERY_BROKER_URL"] = _empty_redis()
        with evalloop_up(Path(data), **overrides) as up:
            yield Api(up.url, make_team_key(up))
            code, left = up.stop()
            if code != 0 or left:
                print(f"evalloop up exited with {code}, left {sorted(left)}:\n{up.tail()}")


def _empty_redis() -> str:
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    redis.Redis.from_url(url).delete("celery", "unacked", "unacked_index")
    return url


@dataclass
class Measured:
    ended: dict[str, float] = field(default_factory=dict)  # session -> when its end was sent
    scored: dict[str, float] = field(default_factory=dict)  # session -> when its result was made
    finished: dict[str, float] = field(default_factory=dict)  # session -> its run's end
    runs: int = 0
    elapsed: float = 0.0


def measure(api: Api, args: Any) -> Measured:
    chatbot = f"latency-{int(time.time())}"
    setup = auto_population(api, chatbot)
    measured = Measured()
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(api, setup, measured, stop), daemon=True)
    poller.start()
    started = time.monotonic()
    _send(api, chatbot, measured, args)
    deadline = time.monotonic() + args.drain
    while len(measured.scored) < len(measured.ended) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    measured.elapsed = time.monotonic() - started
    stop.set()
    poller.join()
    return measured


def _send(api: Api, chatbot: str, measured: Measured, args: Any) -> None:
    """One request per step: a new open session, and the end of the one before."""
    count = int(args.rate * args.seconds)
    start = time.monotonic()
    previous: str | None = None
    for n in range(count + 1):
        time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
        batch = [session(f"s-{n}", ended=False, chatbot=chatbot)] if n < count else []
        sent = time.time()
        if previous is not None:
            batch.append(end(previous, chatbot))
        api.post("/traffic", {"sessions": batch})
        if previous is not None:
            measured.ended[previous] = sent
        previous = f"s-{n}"


def _poll(api: Api, setup: Setup, measured: Measured, stop: threading.Event) -> None:
    done: set[int] = set()
    sources: dict[int, str] = {}  # row id -> session
    while not stop.wait(POLL_SECONDS):
        runs = all_pages(api, f"/configs/{setup.config}/runs")
        for run in runs:
            if run["type"] != "delta" or run["status"] != "completed" or run["id"] in done:
                continue
            results = all_pages(api, f"/runs/{run['id']}/results")
            if any(r["row_id"] not in sources for r in results):
                sources |= _row_sources(api, setup)
            for result in results:
                name = sources[result["row_id"]]
                measured.scored[name] = _seconds(result["created_at"])
                measured.finished[name] = _seconds(run["finished_at"])
            done.add(run["id"])
            measured.runs += 1


def _row_sources(api: Api, setup: Setup) -> dict[int, str]:
    rows = all_pages(api, f"/datasets/{setup.dataset}/rows")
    return {row["id"]: row["source_session"]["external_id"] for row in rows}


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def report(measured: Measured, args: Any) -> None:
    to_result = [
        measured.scored[n] - at for n, at in measured.ended.items() if n in measured.scored
    ]
    to_run = [measured.finished[n] - at for n, at in measured.ended.items() if n in measured.scored]
    lost = len(measured.ended) - len(to_result)
    where = args.url or args.db
    print(
        f"{where}: {len(measured.ended)} sessions ended at {args.rate:g}/s for {args.seconds:g} s; "
        f"{len(to_result)} scored, {lost} lost; {measured.runs} delta runs"
    )
    print("| from a session's end to | p50 | p95 | max |")
    print("| --- | --- | --- | --- |")
    for label, values in (("its result", to_result), ("its delta run completed", to_run)):
        if values:
            print(f"| {label} | {_p(values, 50)} | {_p(values, 95)} | {max(values):.2f} s |")


def _p(values: list[float], percent: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[percent - 1]:.2f} s"


if __name__ == "__main__":
    main()
