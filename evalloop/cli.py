"""The `evalloop` command: run the service, and administer it from a shell.

Thin on purpose: each command parses its options, brings the database up to date, and calls
a service. Models and services are imported inside the commands because Django is set up
only once a command runs, so that a bad setting is one clear line, never a traceback.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from evalloop.teams.permissions import Role


class ConfigurationError(click.ClickException):
    exit_code = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """evalloop: continuous evaluation of chatbot conversations.

    Every command first brings the database up to date, so any of them works on a fresh
    data dir. Settings come from the environment (see docs/settings.md).
    """


def _prepare(*, static: bool = False) -> None:
    """Set Django up and migrate; with `static`, also collect static files when DEBUG is off."""
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command
    from django.db import DatabaseError

    from evalloop.lib.migrate import migrate

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        django.setup()
        _check_secret_key_is_shared(settings)
        migrate()
    except ImproperlyConfigured as exc:
        raise ConfigurationError(str(exc)) from None
    except DatabaseError as exc:
        raise click.ClickException(f"cannot use the database: {_first_line(exc)}") from None
    if static and not settings.DEBUG:
        call_command("collectstatic", interactive=False, verbosity=0)


def _check_secret_key_is_shared(settings: Any) -> None:
    """Refuse a generated key where processes may run on several machines (a Redis broker).

    Each machine would generate a key of its own, so a login or API key made on one would be
    refused on the others. On one machine every process reads the same data dir's key.
    """
    from django.core.exceptions import ImproperlyConfigured

    if settings.DEBUG or settings.EVALLOOP_EMBEDDED_BROKER:
        return
    if settings.EVALLOOP_SECRET_KEY_GENERATED:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when CELERY_BROKER_URL is: every process, on every "
            "machine, needs the same one (at least 50 random characters)."
        )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def _reported() -> Iterator[None]:
    """Turn a service's ValidationError into a one-line error (exit code 1)."""
    from django.core.exceptions import ValidationError

    try:
        yield
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            parts = [f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()]
        else:
            parts = list(exc.messages)
        raise click.ClickException(" ".join(parts)) from None


def _exec(argv: Sequence[str]) -> None:
    """Become `argv`, so that signals reach the server itself."""
    from django.db import connections

    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], list(argv))


# The data dir's lock, held for as long as this `up` or `demo` runs (see _hold_the_data_dir).
_HELD: list[Any] = []


def _hold_the_data_dir() -> None:
    """Refuse to start a second `up` or `demo` on the data dir one already runs on.

    A second one would start a second beat, and an installation has exactly one (two would
    send every periodic task twice). The lock is the kernel's, so it ends with the process,
    however that ends.
    """
    import fcntl

    from django.conf import settings

    lock = open(settings.DATA_DIR / "running.lock", "a")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise click.ClickException(
            f"evalloop already runs on the data dir {settings.DATA_DIR}: stop it first, or "
            "set EVALLOOP_DATA_DIR to another folder."
        ) from None
    _HELD.append(lock)


def _ensure_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}.") from None


# -- running ----------------------------------------------------------------------------------

HOST = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
PORT = click.option("--port", default=8000, type=click.IntRange(1, 65535), show_default=True)
# How long `up` waits for its server to answer before it stops watching (the server goes on).
SERVING_WAIT_SECONDS = 120


def _processes(host: str, port: int) -> dict[str, list[str]]:
    """What `up` (and `demo`) run: the web server, a worker and the beat scheduler."""
    from evalloop.lib import processes

    return {
        "web": processes.web(host=host, port=port),
        "worker": processes.worker(),
        "beat": processes.beat(),
    }


@main.command()
@HOST
@PORT
def up(host: str, port: int) -> None:
    """Run the web server, a worker and the beat scheduler on this machine."""
    _ensure_free(host, port)
    _prepare(static=True)
    _hold_the_data_dir()
    from evalloop.lib.supervisor import Supervisor
    from evalloop.teams.models import User

    commands = _processes(host, port)
    click.echo("evalloop: starting the web server, a worker and beat; Ctrl-C stops them.")
    ready = [f"evalloop: serving {_url(host, port)}/"]
    if not User.objects.exists():
        ready.append("evalloop: no users yet; create one with `evalloop createuser`.")
    _say_when_serving(host, port, ready)
    sys.exit(Supervisor(commands).run())


def _say_when_serving(host: str, port: int, lines: Sequence[str]) -> None:
    """Print `lines` once the web server answers its health check, not before.

    The address printed any earlier would hang in a browser while the server starts.
    """
    import threading
    import time
    import urllib.request

    url = f"{_url(host, port)}/health/"

    def wait() -> None:
        deadline = time.monotonic() + SERVING_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        for line in lines:
                            click.echo(line)
                        return
            except OSError:
                pass
            time.sleep(0.2)

    threading.Thread(target=wait, name="say-when-serving", daemon=True).start()


@main.command()
@HOST
@PORT
@click.option("--reset", is_flag=True, help="Delete the demo team and its data first.")
def demo(host: str, port: int, reset: bool) -> None:
    """Run `up` with a demo team, its set-up, and a simulated chatbot sending traffic."""
    _ensure_free(host, port)
    _prepare(static=True)
    _hold_the_data_dir()
    from django.conf import settings

    from evalloop.demo import seed, simulator
    from evalloop.demo.login import login_path
    from evalloop.lib.supervisor import Supervisor

    with _reported():
        if reset and seed.reset(data_dir=settings.DATA_DIR):
            click.echo("evalloop: deleted the demo team, its data and the demo user.")
        login = seed.seed(data_dir=settings.DATA_DIR)
    url = _url(host, port)
    commands = _processes(host, port)
    commands["simulator"] = simulator.command(url=url, login=login_path(settings.DATA_DIR))
    click.echo(
        "evalloop: starting the web server, a worker, beat and a traffic simulator; "
        "Ctrl-C stops them."
    )
    click.echo(f"Log in at {url}/ as {login.email} with the password {login.password}")
    click.echo(f"API key: {login.api_key}")
    _say_when_serving(host, port, [f"evalloop: serving {url}/; the demo's traffic is on its way."])
    sys.exit(Supervisor(commands).run())


def _url(host: str, port: int) -> str:
    """Where this machine reaches the server: a wildcard address is reached on loopback."""
    reach = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"


@main.command()
@HOST
@PORT
@click.option("--workers", default=2, type=click.IntRange(min=1), show_default=True)
@click.option("--threads", default=8, type=click.IntRange(min=1), show_default=True)
def web(host: str, port: int, workers: int, threads: int) -> None:
    """Run only the web server (gunicorn)."""
    from evalloop.lib import processes

    _prepare(static=True)
    _exec(processes.web(host=host, port=port, workers=workers, threads=threads))


@main.command()
@click.option("--concurrency", type=click.IntRange(min=1), help="Tasks at once [default: CPUs].")
def worker(concurrency: int | None) -> None:
    """Run only a Celery worker; start as many as the load needs."""
    from evalloop.lib import processes

    _prepare()
    _exec(processes.worker(concurrency=concurrency))


@main.command()
def beat() -> None:
    """Run only the beat scheduler; exactly one per installation."""
    from evalloop.lib import processes

    _prepare()
    _exec(processes.beat())


# -- administration ---------------------------------------------------------------------------


def _email(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(value.strip())
    except ValidationError:
        raise click.BadParameter(f"{value!r} is not an e-mail address.") from None
    return value.strip().lower()


@main.command()
@click.option("--email", required=True, callback=_email)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="", help="How the user is shown.")
def createuser(email: str, password: str, name: str) -> None:
    """Create a user who logs in with an e-mail address and password."""
    _prepare()
    from evalloop.teams import services

    with _reported():
        user = services.create_user(email=email, password=password, name=name)
    click.echo(f"Created user {user.email}.")


@main.command()
@click.option("--slug", required=True, help="Short name used in URLs and here, e.g. support.")
@click.option("--name", required=True)
@click.option("--owner", "owner_email", required=True, metavar="EMAIL", callback=_email)
def createteam(slug: str, name: str, owner_email: str) -> None:
    """Create a team owned by an existing user."""
    _prepare()
    from evalloop.teams import services
    from evalloop.teams.models import Team, User

    owner = User.objects.filter(email=owner_email).first()
    if owner is None:
        raise click.ClickException(f"no user has the e-mail address {owner_email}.")
    with _reported():
        Team(slug=slug, name=name).full_clean(validate_unique=False)
        team = services.create_team(slug=slug, name=name, owner=owner)
    click.echo(f"Created team {team.name} ({team.slug}), owned by {owner.email}.")


@main.command()
@click.option("--sweep", is_flag=True, help="Sweep each rule's window behind its watermark.")
def tick(sweep: bool) -> None:
    """Run one auto-population tick for every enabled rule, print a summary."""
    _prepare()
    from django.template.defaultfilters import pluralize

    from evalloop.autopopulate import tick as engine

    with _reported():
        summaries = engine.sweep() if sweep else engine.tick()
    for s in summaries:
        c = s.counts
        click.echo(
            f"rule {s.rule_id}: {s.status}, scanned {c.scanned}, matched {c.matched}, "
            f"in ledger {c.in_ledger}, sampled out {c.sampled_out}, appended {c.appended}, "
            f"{s.duration_ms} ms" + (f", error: {s.error}" if s.error else "")
        )
    appended = sum(s.counts.appended for s in summaries)
    ticked = f"{len(summaries)} rule{pluralize(len(summaries))}"
    click.echo(f"Ticked {ticked}; {appended} row{pluralize(appended)} appended.")


@main.group()
def apikey() -> None:
    """Manage a team's API keys."""


# An API key acts for its team; it never owns it.
KEY_ROLES = [role.value for role in Role if role != Role.OWNER]


@apikey.command("create")
@click.option("--team", "team_slug", required=True, metavar="SLUG")
@click.option("--name", required=True, help="What the key is for, e.g. support-bot.")
@click.option("--role", type=click.Choice(KEY_ROLES), default=Role.EDITOR.value, show_default=True)
def apikey_create(team_slug: str, name: str, role: str) -> None:
    """Create an API key and print it, alone on the last line; it is shown only once."""
    _prepare()
    from evalloop.teams import services
    from evalloop.teams.models import ApiKey, Team

    team = Team.objects.filter(slug=team_slug).first()
    if team is None:
        raise click.ClickException(f"no team has the slug {team_slug!r}.")
    with _reported():
        ApiKey(team=team, name=name, role=role).clean_fields(exclude=["prefix", "digest"])
        issued = services.create_api_key(team=team, name=name, role=role)
    click.echo(f"Created API key {name!r} ({role}) for {team.name}; it is not shown again:")
    click.echo(issued.plaintext)


if __name__ == "__main__":
    main()
