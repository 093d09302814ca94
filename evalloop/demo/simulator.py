"""The demo's traffic simulator: a chatbot's conversations sent to `POST /api/v1/traffic`.

A process of its own under `evalloop demo`'s supervisor (`python -m evalloop.demo.simulator`).
It reads the demo's API key from the login file in the data dir, waits for the web server to
answer, then sends a batch every few seconds. A busy server (503 or 429 with `Retry-After`)
or one not answering is waited for and the same batch sent again: ingestion is idempotent,
so a batch that did arrive is not stored twice. SIGTERM or Ctrl-C stop it between requests.
It needs no Django: only the API, as any chatbot would use it.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx2 as httpx

from evalloop.demo.conversations import CHATBOT, Traffic
from evalloop.demo.login import read_login

EVERY_SECONDS = 3.0
# How long to wait for a busy or unreachable server before sending again, at most.
LONGEST_WAIT = 30.0
UNREACHABLE_WAIT = 1.0
REPORT_EVERY = 20  # batches between two lines of what was sent


def say(line: str) -> None:
    print(f"evalloop: simulator: {line}", file=sys.stderr, flush=True)


def retry_after(response: httpx.Response) -> float:
    """The server's `Retry-After` in seconds, within 0.5 s and LONGEST_WAIT; 1 s without."""
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.5), LONGEST_WAIT)


class Sender:
    """Sends batches until they are stored, waiting out a busy or absent server."""

    def __init__(self, client: httpx.Client, stop: threading.Event, say: Callable[[str], None]):
        self.client = client
        self.stop = stop
        self.say = say
        self.said: set[str] = set()

    def _once(self, problem: str) -> None:
        """Say a problem the first time it happens, not on every retry."""
        if problem not in self.said:
            self.said.add(problem)
            self.say(problem)

    def wait_for_server(self) -> bool:
        """Answer True once the API answers the key, False when stopped first."""
        while not self.stop.is_set():
            try:
                response = self.client.get("/team")
            except httpx.TransportError:
                self.stop.wait(UNREACHABLE_WAIT)
                continue
            if response.status_code == 200:
                return True
            self._wait_out(response)
        return False

    def send(self, batch: dict[str, Any]) -> dict[str, Any] | None:
        """Post the batch until it is stored; answer the summary, or None when given up."""
        while not self.stop.is_set():
            try:
                response = self.client.post("/traffic", json=batch)
            except httpx.TransportError as exc:
                self._once(f"the server does not answer ({type(exc).__name__}); retrying.")
                self.stop.wait(UNREACHABLE_WAIT)
                continue
            if response.is_success:
                self.said.clear()
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code == 422:
                self.say(f"a batch was refused, left out: {response.text[:500]}")
                return None
            self._wait_out(response)
        return None

    def _wait_out(self, response: httpx.Response) -> None:
        code = response.status_code
        if code in (429, 503):
            self._once(f"the server is busy ({code}); sending again after Retry-After.")
            self.stop.wait(retry_after(response))
        elif code == 401:
            self._once("the demo API key was refused; restart `evalloop demo` for a new one.")
            self.stop.wait(LONGEST_WAIT)
        else:
            self._once(f"the server answered {code}; retrying: {response.text[:200]}")
            self.stop.wait(retry_after(response))


def run(sender: Sender, traffic: Traffic, *, every: float) -> None:
    """Send a batch every `every` seconds until stopped."""
    sent = 0
    while not sender.stop.is_set():
        if sender.send(traffic.next_batch(datetime.now(UTC))) is not None:
            sent += 1
            if sent == 1 or sent % REPORT_EVERY == 0:
                sender.say(_tally(traffic))
        sender.stop.wait(every)


def _tally(traffic: Traffic) -> str:
    counts = traffic.counts
    return (
        f"sent {counts['sessions']} conversations so far ({counts['ended']} ended, "
        f"{counts['left idle']} left idle, {len(traffic.open)} going on), "
        f"{counts['messages']} messages."
    )


def command(*, url: str, login: Path, every: float = EVERY_SECONDS) -> list[str]:
    """The simulator's command line, for the supervisor."""
    module = [sys.executable, "-m", "evalloop.demo.simulator"]
    return [*module, "--url", url, "--login", str(login), "--every", str(every)]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="evalloop-demo-simulator", description=__doc__)
    parser.add_argument("--url", required=True, help="The server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--login", required=True, type=Path, help="The demo's login file.")
    parser.add_argument("--every", type=float, default=EVERY_SECONDS, help="Seconds per batch.")
    parser.add_argument("--seed", type=int, help="Seed of the conversations (random if left out).")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    login = read_login(args.login)
    if login is None:
        say(f"no demo login in {args.login}; start the demo with `evalloop demo`.")
        return 1
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    headers = {"Authorization": f"Bearer {login.api_key}"}
    base = args.url.rstrip("/") + "/api/v1"
    with httpx.Client(base_url=base, headers=headers, timeout=10.0) as client:
        sender = Sender(client, stop, say)
        if sender.wait_for_server():
            seed = args.seed if args.seed is not None else secrets.randbits(32)
            run(sender, Traffic(seed=seed, chatbot=CHATBOT), every=args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
