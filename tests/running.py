"""A real `evalloop up` driven through its API: for end-to-end tests and benchmarks.

`tests.processes.evalloop_up` starts the server; `Api` speaks JSON to it with a team API key
made by the command line; `auto_population` sets up, through the API only, what scores fresh
traffic: a chatbot, a session-mode dataset, a rule, a `contains` evaluator and an auto-running
config.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tests.processes import Server

CHATBOT = "support"


def team_key(up: Server, *, team: str = "bench") -> str:
    """Create a user, a team and an editor API key with the command line; answer the key."""
    email = f"owner@{team}.example"
    up.cli("createuser", "--email", email, "--password", "a long pass phrase for tests")
    up.cli("createteam", "--slug", team, "--name", team.title(), "--owner", email)
    return up.cli("apikey", "create", "--team", team, "--name", "traffic").strip().splitlines()[-1]


class Api:
    """JSON over HTTP to a running server's `/api/v1`, with a team API key."""

    def __init__(self, url: str, key: str) -> None:
        self.base = f"{url}/api/v1"
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, {} if body is None else body)

    def _call(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers=self.headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None


@dataclass(frozen=True)
class Setup:
    dataset: int
    rule: int
    evaluator: int
    config: int


def auto_population(api: Api, chatbot: str = CHATBOT) -> Setup:
    """Make, through the API, everything that scores a chatbot's ended sessions on its own."""
    api.post("/chatbots", {"slug": chatbot, "name": chatbot.title()})
    name = f"Fresh sessions of {chatbot}"
    dataset = api.post("/datasets", {"name": name, "mode": "session"})["id"]
    rule = api.post(f"/datasets/{dataset}/rules", {"chatbot": chatbot, "filter": []})["id"]
    check = {
        "name": f"Refund asked ({chatbot})",
        "kind": "contains",
        "params": {"words": ["refund"]},
    }
    evaluator = api.post("/evaluators", check)["id"]
    config = api.post(
        "/configs",
        {
            "name": name,
            "dataset": dataset,
            "evaluators": [evaluator],
            "auto_run_on_append": True,
        },
    )["id"]
    return Setup(dataset=dataset, rule=rule, evaluator=evaluator, config=config)


def session(external_id: str, *, ended: bool, chatbot: str = CHATBOT) -> dict[str, Any]:
    """One session of the traffic batch: a question and its answer."""
    return {
        "chatbot": chatbot,
        "external_id": external_id,
        "ended": ended,
        "messages": [
            {"external_id": "q", "role": "human", "content": f"Question {external_id}"},
            {"external_id": "a", "role": "ai", "content": "Happy to help."},
        ],
    }


def end(external_id: str, chatbot: str = CHATBOT) -> dict[str, Any]:
    """The traffic batch entry that ends a session already sent."""
    return {"chatbot": chatbot, "external_id": external_id, "ended": True}


def all_pages(api: Api, path: str) -> list[dict[str, Any]]:
    """Every item of a paginated list."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        separator = "&" if "?" in path else "?"
        page = api.get(f"{path}{separator}limit=1000{cursor}")
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        cursor = f"&cursor={page['next_cursor']}"
