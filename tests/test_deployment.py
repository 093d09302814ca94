"""The Procfile and deploy/compose.yaml run real `evalloop` commands with documented settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from evalloop import cli
from evalloop.lib import env

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
DEPLOYMENT = ROOT / "docs" / "deployment.md"
# ${NAME}, ${NAME:-default}, ${NAME:?message}: compose's and the shell's substitutions.
SUBSTITUTION = re.compile(r"\$\{([A-Z_]+)(?::[-?][^}]*)?\}")


def processes() -> dict[str, str]:
    lines = [line for line in PROCFILE.read_text().splitlines() if line.strip()]
    return dict(line.split(": ", 1) for line in lines)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def parses_as_the_cli(argv: list[str]) -> str:
    """Parse `evalloop ...` as the CLI would (options included) and answer the command's name."""
    assert argv[0] == "evalloop", argv
    with click.Context(cli.main) as group:
        command = cli.main.get_command(group, argv[1])
        assert command is not None, f"evalloop has no command {argv[1]!r}"
        command.make_context(argv[1], argv[2:])  # raises on an unknown option or bad value
    return argv[1]


def substituted(command: str) -> list[str]:
    return shlex.split(SUBSTITUTION.sub("8000", command))


def test_the_procfile_runs_web_worker_and_beat_after_migrating():
    commands = processes()
    assert set(commands) == {"release", "web", "worker", "beat"}
    assert commands["release"].split()[:3] == ["python", "manage.py", "migrate"]
    for name in ("web", "worker", "beat"):
        assert parses_as_the_cli(substituted(commands[name])) == name


def test_the_web_process_listens_on_the_platforms_port():
    assert "--host 0.0.0.0 --port ${PORT:-8000}" in processes()["web"]


def test_the_compose_file_runs_the_documented_services():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        assert parses_as_the_cli(services[name]["command"]) == name
    assert services["beat"]["deploy"]["replicas"] == 1


def test_every_evalloop_service_reaches_postgres_and_redis_with_a_secret_key():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://"), name
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:"), name
        assert "SECRET_KEY:?" in environment["SECRET_KEY"], name  # compose refuses to start
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}


def test_the_compose_file_sets_only_documented_settings():
    documented = set(
        re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", (ROOT / "docs/settings.md").read_text(), re.M)
    )
    used = set(compose()["x-evalloop"]["environment"])
    assert used <= set(env.READ) & documented


@pytest.mark.parametrize("path", ["Procfile", "deploy/compose.yaml", "deploy/Dockerfile"])
def test_the_deployment_page_names_each_file(path):
    assert f"`{path}`" in DEPLOYMENT.read_text()
    assert (ROOT / path).exists()


def test_the_page_shows_the_procfile_as_it_is():
    assert PROCFILE.read_text().strip() in DEPLOYMENT.read_text()
