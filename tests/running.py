"""A real `evalloop up` driven through its API: for end-to-end tests and benchmarks.

`evalloop_up` starts the server, its worker and beat on a free port with a data dir of its
own, and stops them with Ctrl-C. `Api` speaks JSON to it with a team API key made by the
command line; `auto_population` sets up, through the API only, what scores fresh traffic:
a chatbot, a session-mode dataset, a rule, a `contains` evaluator and an auto-running config.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import EVALLOOP, descendants, environ, gone, wait_until

START_SECONDS = 90
STOP_SECONDS = 60
CHATBOT = "support"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Up:
    url: str
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


@contextmanager
def evalloop_up(data_dir: Path, **overrides: str) -> Iterator[Up]:
    """Run `evalloop up` on `data_dir` (SQLite and the embedded broker unless overridden)."""
    port = free_port()
    env = environ(data_dir, **overrides)
    log = data_dir / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*EVALLOOP, "up", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    up = Up(f"http://127.0.0.1:{port}", env, process, log)
    try:
        ready = wait_until(lambda: process.poll() is not None or up.serves(), timeout=START_SECONDS)
        if not ready or process.poll() is not None:
            raise RuntimeError(f"evalloop up did not start:\n{up.tail()}")
        yield up
    finally:
        if process.poll() is None:
            up.stop()


def team_key(up: Up, *, team: str = "bench") -> str:
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
