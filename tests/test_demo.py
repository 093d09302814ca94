"""End to end: `evalloop demo` seeds its team, sends traffic on its own, and evaluates it.

A real `evalloop demo` (server, worker, beat and the traffic simulator) with a short tick:
nothing is sent by the test, which only reads through the API with the key the demo printed.
On SQLite by default; on PostgreSQL (and Redis) when the suite runs there (`store`).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.processes import Server, evalloop_up, wait_until
from tests.running import Api, all_pages

pytestmark = pytest.mark.celery

TICK_SECONDS = 2
# From the server answering to the first completed delta run: traffic every 3 s, a kick or
# a tick, then the run; room for a loaded two-core machine.
WITHIN_SECONDS = 60


def printed_key(demo: Server) -> str:
    lines = demo.log.read_text(errors="replace").splitlines()
    keys = [line.removeprefix("API key: ") for line in lines if line.startswith("API key: ")]
    assert len(keys) == 1, demo.tail()
    return keys[0]


def runs(api: Api, config: int) -> list[dict[str, Any]]:
    return list(api.get(f"/configs/{config}/runs?limit=100")["items"])


def completed_deltas(api: Api, config: int) -> list[dict[str, Any]]:
    return [r for r in runs(api, config) if r["type"] == "delta" and r["status"] == "completed"]


def test_the_demo_evaluates_its_simulated_traffic_on_its_own(tmp_path, store):
    settings = {"EVALLOOP_TICK_SECONDS": str(TICK_SECONDS), "EVALLOOP_COORDINATOR_SECONDS": "1"}
    with evalloop_up(tmp_path, command="demo", **settings, **store) as demo:
        served = time.monotonic()
        api = Api(demo.url, printed_key(demo))
        assert api.get("/team")["slug"] == "demo"
        configs = {config["name"]: config["id"] for config in api.get("/configs")["items"]}
        checks = configs["Reply checks"]
        done = wait_until(lambda: completed_deltas(api, checks), timeout=WITHIN_SECONDS, every=0.5)
        took = time.monotonic() - served
        assert done, f"no delta run completed after {took:.0f} s:\n{demo.tail()}"

        datasets = {d["name"]: d for d in api.get("/datasets")["items"]}
        assert datasets["Support replies"]["row_count"] > 0
        first = completed_deltas(api, checks)[-1]
        results = all_pages(api, f"/runs/{first['id']}/results")
        assert len(results) == 4 * first["scope_size"]  # four evaluators per row
        assert all(result["error"] == "" for result in results)
        assert runs(api, configs["Reply quality (LLM judge)"]) == []  # no provider, no runs
        demo.stop_cleanly()
    print(f"first delta run completed {took:.1f} s after the demo's server answered")
