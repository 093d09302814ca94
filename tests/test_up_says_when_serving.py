"""`evalloop up` prints its address once the server answers, so the address never hangs."""

from __future__ import annotations

import json
import urllib.request

from tests.processes import evalloop_up, wait_until


def test_up_prints_the_address_only_once_the_health_check_answers(tmp_path):
    with evalloop_up(tmp_path) as up:
        serving = f"evalloop: serving {up.url}/"

        def whole_log() -> str:  # the server's access lines soon push the first lines out of tail
            return up.log.read_text(errors="replace")

        assert wait_until(lambda: serving in whole_log(), timeout=30), up.tail()
        log = whole_log()
        assert log.index("evalloop: starting the web server") < log.index(serving)
        assert "no users yet; create one with `evalloop createuser`" in log
        with urllib.request.urlopen(f"{up.url}/health/", timeout=5) as response:
            assert json.load(response) == {"status": "ok", "database": "ok"}
