"""`evalloop up` prints its address once the server answers; one runs per data dir and port."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from tests.processes import EVALLOOP, evalloop_up, free_port, wait_until


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


def test_a_second_up_or_demo_on_the_same_data_dir_is_refused(tmp_path):
    with evalloop_up(tmp_path) as up:
        for command in ("up", "demo"):
            second = subprocess.run(
                [*EVALLOOP, command, "--port", str(free_port())],
                env=up.env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert second.returncode == 1
            assert f"evalloop already runs on the data dir {tmp_path}" in second.stderr
        assert up.serves()


def test_a_port_already_taken_is_refused_before_any_set_up(tmp_path):
    (tmp_path / "first").mkdir()
    with evalloop_up(tmp_path / "first") as up:
        port = up.url.rsplit(":", 1)[1]
        second = subprocess.run(
            [*EVALLOOP, "up", "--port", port],
            env={**up.env, "EVALLOOP_DATA_DIR": str(tmp_path / "second")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert not (tmp_path / "second").exists()
