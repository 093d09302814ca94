"""Regenerate the screenshots in docs/screenshots/ from a running demo.

    uv run python scripts/screenshots.py [--out docs/screenshots] [--wait 300]

Starts `evalloop demo` on a scratch data dir (SQLite and the embedded broker, whatever the
environment says), waits until its configs have completed a few delta runs, logs in with
Debian's Chromium (`apt-get install chromium`) and captures the pages the README and the docs
show. The demo runs with a short tick so that the wait is a minute or two, not more; the
pages are otherwise what `uv run evalloop demo` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
EVALLOOP = str(Path(sys.executable).with_name("evalloop"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 860}
LOGIN = re.compile(
    r"Log in at (?P<url>\S+?)/? as (?P<email>\S+) with the password (?P<password>.+)$"
)
# Delta runs completed per auto-running config before the pictures are taken: enough for a
# trend to show a line, not a dot.
RUNS_WANTED = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--wait", type=float, default=420, help="seconds to wait for runs")
    options = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing; install it with `apt-get install chromium`.")
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evalloop-shots-") as data_dir:
        demo = Demo(Path(data_dir))
        try:
            demo.wait_for_runs(timeout=options.wait)
            capture(demo, options.out)
        finally:
            demo.stop()


class Demo:
    """`evalloop demo` in a subprocess, with its login and API key."""

    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        scratch = ("DATABASE_URL", "CELERY_BROKER_URL")
        env = {name: value for name, value in os.environ.items() if name not in scratch}
        env |= {"EVALLOOP_DATA_DIR": str(data_dir), "EVALLOOP_TICK_SECONDS": "5"}
        self.log = data_dir / "demo.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [EVALLOOP, "demo", "--port", str(port)], env=env, stdout=out, stderr=out
            )
        self.url = self.email = self.password = self.key = ""
        if not _until(self._read_login, timeout=180):
            self.stop()
            sys.exit(f"the demo did not start:\n{self.log.read_text()[-3000:]}")

    def _read_login(self) -> bool:
        if self.process.poll() is not None:
            self.stop()
            sys.exit(f"the demo ended:\n{self.log.read_text()[-3000:]}")
        for line in self.log.read_text(errors="replace").splitlines():
            if found := LOGIN.search(line):
                self.url, self.email = found["url"].rstrip("/"), found["email"]
                self.password = found["password"].strip()
            if line.startswith("API key: "):
                self.key = line.removeprefix("API key: ").strip()
        return bool(self.url and self.key) and self._serves()

    def _serves(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {self.key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def items(self, path: str) -> list[Any]:
        answer = self.api(path)
        return list(answer["items"] if isinstance(answer, dict) else answer)

    def auto_configs(self) -> list[dict[str, Any]]:
        return [c for c in self.items("/configs") if c.get("auto_run_on_append")]

    def completed_runs(self, config_id: int) -> list[dict[str, Any]]:
        return [r for r in self.items(f"/configs/{config_id}/runs") if r["status"] == "completed"]

    def wait_for_runs(self, *, timeout: float) -> None:
        def enough() -> bool:
            configs = self.auto_configs()
            counts = [len(self.completed_runs(c["id"])) for c in configs]
            print(f"completed delta runs per auto-running config: {counts}", flush=True)
            return bool(counts) and min(counts) >= RUNS_WANTED

        if not _until(enough, timeout=timeout, every=10):
            sys.exit(f"fewer than {RUNS_WANTED} runs per config after {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def capture(demo: Demo, out: Path) -> None:
    chatbot = demo.items("/chatbots")[0]
    datasets = {d["mode"]: d for d in demo.items("/datasets")}
    dataset = datasets["session"]
    rule = demo.items(f"/datasets/{dataset['id']}/rules")[0]
    config = next(c for c in demo.auto_configs() if c["dataset"] == dataset["id"])
    run = demo.completed_runs(config["id"])[0]
    pages: dict[str, str] = {
        "dashboard": "/",
        "sessions": f"/chatbots/{chatbot['slug']}/sessions/",
        "dataset": f"/datasets/{dataset['id']}/",
        "rule": f"/datasets/{dataset['id']}/rules/{rule['id']}/edit/",
        "run": f"/runs/{run['id']}/",
        "trend": f"/configs/{config['id']}/trend/",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        page.goto(f"{demo.url}/login/")
        page.get_by_label("E-mail").fill(demo.email)
        page.get_by_label("Password").fill(demo.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{demo.url}/")
        for name, path in pages.items():
            shoot(page, f"{demo.url}{path}", out / f"{name}.png")
        browser.close()


def shoot(page: Page, url: str, path: Path) -> None:
    response = page.goto(url)
    if response is None or response.status != 200:
        raise SystemExit(f"{url} answered {response.status if response else 'nothing'}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=path)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)


def _until(predicate: Callable[[], bool], *, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, urllib.error.HTTPError, KeyError, ValueError):
            pass
        time.sleep(every)
    return False


if __name__ == "__main__":
    main()
