"""End to end: `evalloop up` scores ended sessions on its own, within two tick intervals.

Everything goes through the API of a real server with its worker and beat: a chatbot, a
session-mode dataset, a rule, a `contains` evaluator and an auto-running config; then traffic.
On SQLite by default; when the suite runs on PostgreSQL (and Redis), the server gets a scratch
database on the same PostgreSQL server (and the suite's Redis as its broker): the `store`
fixture of tests/conftest.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.processes import evalloop_up, wait_until
from tests.running import Api, Setup, all_pages, auto_population, end, session, team_key

pytestmark = pytest.mark.celery

TICK_SECONDS = 2
# Room for a loaded two-core CI machine; the kick itself takes about a second.
SLACK_SECONDS = 6
SESSIONS = [f"s-{n}" for n in range(3)]


def scored(api: Api, setup: Setup) -> dict[int, dict[str, Any]]:
    """The results of the config's completed delta runs, by row id."""
    runs = api.get(f"/configs/{setup.config}/runs?limit=100")["items"]
    done = [run for run in runs if run["type"] == "delta" and run["status"] == "completed"]
    return {
        result["row_id"]: result
        for run in done
        for result in all_pages(api, f"/runs/{run['id']}/results")
    }


def test_ended_sessions_are_in_the_dataset_and_scored_within_two_ticks(tmp_path, store):
    settings = {"EVALLOOP_TICK_SECONDS": str(TICK_SECONDS), "EVALLOOP_COORDINATOR_SECONDS": "1"}
    with evalloop_up(tmp_path, **settings, **store) as up:
        api = Api(up.url, team_key(up))
        setup = auto_population(api)
        api.post("/traffic", {"sessions": [session(name, ended=False) for name in SESSIONS]})
        time.sleep(TICK_SECONDS)  # a tick or a kick passes: open sessions stay out
        assert api.get(f"/datasets/{setup.dataset}")["row_count"] == 0

        ended = time.monotonic()
        api.post("/traffic", {"sessions": [end(name) for name in SESSIONS]})
        arrived = wait_until(
            lambda: len(scored(api, setup)) == len(SESSIONS),
            timeout=2 * TICK_SECONDS + SLACK_SECONDS,
            every=0.2,
        )
        took = time.monotonic() - ended
        assert arrived, f"not scored after {took:.1f} s:\n{up.tail()}"

        rows = all_pages(api, f"/datasets/{setup.dataset}/rows")
        assert sorted(row["source_session"]["external_id"] for row in rows) == SESSIONS
        assert {row["rule_id"] for row in rows} == {setup.rule}
        results = scored(api, setup)
        assert sorted(results) == sorted(row["id"] for row in rows)
        # Session rows hold the transcript as history: a check of the output scores False.
        assert all(result["output"] == {"match": False} for result in results.values())
        assert all(result["error"] == "" for result in results.values())
        up.stop_cleanly()
    print(f"scored {len(SESSIONS)} ended sessions {took:.1f} s after they ended")
