"""The command lines of evalloop's long-running processes: web server, worker and beat."""

from __future__ import annotations

import sys

from django.conf import settings

from config.celery import worker_options

# gunicorn's largest request line (its default is 4094): above evalloop's own URL limit
# (evalloop/web/middleware.py), so a URL too long is answered by evalloop, in JSON on /api/.
REQUEST_LINE_BYTES = 8190


def web(*, host: str, port: int, workers: int = 1, threads: int = 8) -> list[str]:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [
        *(sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", bind),
        *("--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)),
        *("--limit-request-line", str(REQUEST_LINE_BYTES)),
        # Short, so that stopping never waits long on a browser's idle keep-alive connection.
        *("--graceful-timeout", "5", "--access-logfile", "-", "--no-control-socket"),
        *("--log-level", settings.LOG_LEVEL.lower()),
    ]


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "--app", "config.celery:app", *args]


def worker(*, concurrency: int | None = None) -> list[str]:
    options = worker_options(embedded_broker=settings.EVALLOOP_EMBEDDED_BROKER)
    if concurrency:
        options += ["--concurrency", str(concurrency)]
    return _celery("worker", "--loglevel", settings.LOG_LEVEL, *options)


def beat() -> list[str]:
    return _celery("beat", "--loglevel", settings.LOG_LEVEL)
