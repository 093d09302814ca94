"""The other process of the contention test: traffic, a CSV upload and an import at once.

    python -m tests.contention '<json setup>'

A Django of its own on the database that DATABASE_URL names, with a thread for each, as
the web server's threads and a worker are: each thread has its own database connection.
Prints one JSON line: what each did and what it saw.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

SESSIONS_PER_BATCH = 5
MESSAGES_PER_SESSION = 4
MIN_BATCHES = 10
MAX_BATCHES = 400


def main(setup: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    results: dict[str, Any] = {}
    bulk = [
        threading.Thread(target=run, args=(name, work, setup, results))
        for name, work in (("upload", upload), ("import", import_all))
    ]
    for thread in bulk:
        thread.start()
    run("traffic", lambda client, setup: send_traffic(client, bulk), setup, results)
    for thread in bulk:
        thread.join()
    return results


def run(
    name: str, work: Callable[[Any, dict[str, Any]], Any], setup: dict[str, Any], results: dict
) -> None:
    from django.db import connection
    from django.test import Client

    try:
        results[name] = work(Client(HTTP_AUTHORIZATION=f"Bearer {setup['key']}"), setup)
    finally:
        connection.close()


def send_traffic(client: Any, bulk: list[threading.Thread]) -> dict[str, Any]:
    """Send batches until the bulk work is done; retry each 503 until it is stored."""
    statuses: dict[int, int] = {}
    sent = 0
    while sent < MAX_BATCHES and (sent < MIN_BATCHES or any(t.is_alive() for t in bulk)):
        while True:
            status = client.post("/api/v1/traffic", batch(sent), content_type="application/json")
            statuses[status.status_code] = statuses.get(status.status_code, 0) + 1
            if status.status_code != 503:
                break
            assert status["Retry-After"].isdigit()
            time.sleep(0.05)  # Retry-After asks for more; the test keeps short
        sent += 1
    return {"batches": sent, "statuses": statuses, **stored(sent)}


def stored(batches: int) -> dict[str, int]:
    from django.db.models import Count

    from evalloop.chat.models import Message

    messages = Message.objects.filter(session__chatbot__slug="support")
    keys = messages.values("session__external_id", "external_id")
    return {
        "expected": batches * SESSIONS_PER_BATCH * MESSAGES_PER_SESSION,
        "distinct": keys.distinct().count(),
        "twice": keys.annotate(n=Count("id")).filter(n__gt=1).count(),
    }


def batch(n: int) -> str:
    sessions = [
        {
            "chatbot": "support",
            "external_id": f"b{n}-s{s}",
            "tags": ["vip"] if s == 0 else [],
            "messages": [
                {"external_id": f"m-{m}", "role": "human" if m % 2 == 0 else "ai", "content": "hi"}
                for m in range(MESSAGES_PER_SESSION)
            ],
        }
        for s in range(SESSIONS_PER_BATCH)
    ]
    return json.dumps({"sessions": sessions})


def upload(client: Any, setup: dict[str, Any]) -> dict[str, Any]:
    with open(setup["csv"], "rb") as f:
        response = client.post(f"/api/v1/datasets/{setup['csv_dataset']}/csv", {"file": f})
    return {"status": response.status_code, "answer": response.json()}


def import_all(client: Any, setup: dict[str, Any]) -> dict[str, Any]:
    """Import every session of the seeded chatbot: a background job, run here on commit."""
    from evalloop.datasets.models import ImportJob

    path = f"/api/v1/datasets/{setup['import_dataset']}/import"
    response = client.post(path, {"chatbot": "seed", "filter": []}, content_type="application/json")
    job = ImportJob.objects.get(dataset_id=setup["import_dataset"])
    return {"status": response.status_code, "job": job.status, "rows": job.rows_added}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
