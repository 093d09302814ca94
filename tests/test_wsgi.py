"""The web process loads, before its first request, what that request would wait for."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import environ

LOADED = (
    "from evalloop.evaluators.kinds import REGISTRY, get_kind; import sys; "
    "print(get_kind.cache_info().currsize == len(REGISTRY), 'openai' in sys.modules)"
)


def test_loading_the_wsgi_application_loads_every_evaluator_kind(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", f"import config.wsgi; {LOADED}"],
        env=environ(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
