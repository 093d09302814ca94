"""Long-lived sandbox processes, lent out one per call, restarted after a timeout or crash."""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalloop.evaluators.sandbox.protocol import (
    FrameReader,
    FrameTimeout,
    ProtocolError,
    encode,
    write_all,
)

logger = logging.getLogger(__name__)

# The folder holding the `evalloop` package: the sandbox imports its child module from there.
SOURCE_ROOT = Path(__file__).resolve().parents[3]
CHILD_MODULE = "evalloop.evaluators.sandbox.child"
START_SECONDS = 30  # to start and warm up
COMPILE_SECONDS = 30  # to read a request and compile its code (the child's CPU budget)
CHUNK_ROWS = 200  # rows per request, so a request stays far below the memory limit
MAX_FAILURES = 3  # timeouts or crashes in one call before its other rows are skipped
ANSWER_BYTES = 1024 * 1024  # an answer carries at most one capped output


@dataclass(frozen=True)
class Answer:
    """What one evaluation answered: a JSON object or an error, and how long it ran."""

    output: dict[str, Any] | None = None
    error: str = ""
    latency_ms: int = 0


class SandboxError(Exception):
    """The sandbox process did not answer a row: the message says why, for the result."""


class SandboxUnavailable(Exception):
    """A sandbox process could not start."""


class SandboxProcess:
    """One child process and its pipes; used by one thread at a time."""

    def __init__(self, *, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-E", "-s", "-B", "-m", CHILD_MODULE, str(memory_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=SOURCE_ROOT,
                env={"LC_ALL": "C.UTF-8"},  # no secrets, no DATABASE_URL, no PYTHONPATH
                start_new_session=True,  # a Ctrl-C in the terminal is for the parent only
            )
        except OSError as exc:
            raise SandboxUnavailable(f"the python sandbox did not start: {exc}") from None
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:
            raise SandboxUnavailable("the python sandbox has no pipes")
        self.requests = stdin.fileno()
        self.answers = FrameReader(stdout.fileno(), ANSWER_BYTES)
        self._await_ready()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, code: str, rows: Sequence[Any], timeout: float) -> Iterator[Answer]:
        """Answer each row in order; SandboxError (the process then stopped) on a failed row."""
        request = {"code": code, "rows": list(rows), "timeout": timeout}
        try:
            write_all(self.requests, encode(json.dumps(request, default=str).encode()))
        except OSError:
            raise self._failure("the sandbox process stopped") from None
        self._next(COMPILE_SECONDS, f"compiling the code took longer than {COMPILE_SECONDS} s")
        late = f"evaluate() took longer than {timeout:g} s"
        for _ in rows:
            frame = self._next(timeout, late)
            yield Answer(frame.get("output"), frame.get("error", ""), frame.get("ms", 0))

    def stop(self) -> None:
        """End the process: politely when idle (it exits when its input closes), else kill."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def abandon(self) -> None:
        """Close this process's pipes without waiting: it belongs to the parent of a fork."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        # Never wait for it: after a fork it is the parent's child, not ours.
        self.process.returncode = 0

    def _await_ready(self) -> None:
        try:
            self._next(START_SECONDS, f"no answer within {START_SECONDS} s")
        except SandboxError as exc:
            raise SandboxUnavailable(f"the python sandbox did not start: {exc}") from None

    def _next(self, seconds: float, late: str) -> dict[str, Any]:
        """The next frame, or SandboxError (saying `late` after `seconds`) once stopped."""
        try:
            frame = self.answers.read(time.monotonic() + seconds)
        except FrameTimeout:
            self._kill()
            raise SandboxError(late) from None
        except (ProtocolError, ValueError):
            self._kill()
            raise SandboxError("the sandbox process answered garbage") from None
        if not isinstance(frame, dict):
            raise self._failure(late)
        return frame

    def _failure(self, late: str) -> SandboxError:
        """Why the process stopped answering (it is reaped here)."""
        self._kill()
        code = self.process.returncode
        if code == -signal.SIGXCPU:
            return SandboxError(late)  # its CPU budget ran out before the deadline
        if code is not None and code < 0:
            return SandboxError(
                f"the sandbox process was stopped by signal {-code}; "
                "the code may have run out of memory"
            )
        return SandboxError(f"the sandbox process stopped (exit status {code})")

    def _kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class SandboxPool:
    """Up to `size` sandbox processes, started on first use and lent out one per call."""

    def __init__(self, *, size: int, timeout: float, memory_mb: int) -> None:
        self.size = size
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[SandboxProcess] = []

    def evaluate(
        self, code: str, rows: Sequence[Any], *, timeout: float | None = None
    ) -> list[Answer]:
        """One answer per row, in order; a row that times out or crashes its process is an error.

        After MAX_FAILURES such rows the others are skipped, so a function that always loops
        costs a batch a few timeouts, not one per row.
        """
        timeout = timeout or self.timeout
        answers: list[Answer] = []
        failures = 0
        with self._slots:
            while len(answers) < len(rows) and failures < MAX_FAILURES:
                chunk = rows[len(answers) : len(answers) + CHUNK_ROWS]
                try:
                    self._run_chunk(code, chunk, timeout, answers)
                except SandboxUnavailable as exc:
                    logger.exception("The python sandbox could not start.")
                    return answers + [Answer(error=str(exc))] * (len(rows) - len(answers))
                except SandboxError as exc:
                    answers.append(Answer(error=str(exc), latency_ms=round(timeout * 1000)))
                    failures += 1
        skipped = f"skipped: {failures} earlier rows of this batch timed out or crashed the sandbox"
        return answers + [Answer(error=skipped)] * (len(rows) - len(answers))

    def pids(self) -> list[int]:
        """The idle processes' ids (every process's, between calls)."""
        with self._lock:
            return [process.pid for process in self._idle]

    def close(self) -> None:
        """Stop the idle processes (at exit); one lent out comes back to the pool as usual."""
        with self._lock:
            idle, self._idle = self._idle, []
        for process in idle:
            process.stop()

    def abandon(self) -> None:
        """Let go of the processes without stopping them: they belong to a forked parent."""
        for process in self._idle:
            process.abandon()
        self._idle = []

    def _run_chunk(
        self, code: str, rows: Sequence[Any], timeout: float, answers: list[Answer]
    ) -> None:
        with self._process() as process:
            # One by one: the answers before a failed row are kept when it raises.
            for answer in process.run(code, rows, timeout):
                answers.append(answer)

    @contextmanager
    def _process(self) -> Iterator[SandboxProcess]:
        with self._lock:
            process = self._idle.pop() if self._idle else None
        if process is None or not process.alive():
            process = SandboxProcess(memory_mb=self.memory_mb)
        try:
            yield process
        finally:
            if process.alive():
                with self._lock:
                    self._idle.append(process)


_default: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """This process's pool, sized by the settings; created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from django.conf import settings

            _default = SandboxPool(
                size=settings.EVALLOOP_PYTHON_WORKERS,
                timeout=settings.EVALLOOP_PYTHON_TIMEOUT_SECONDS,
                memory_mb=settings.EVALLOOP_PYTHON_MEMORY_MB,
            )
        return _default


def close_default_pool() -> None:
    global _default
    with _default_lock:
        pool, _default = _default, None
    if pool is not None:
        pool.close()


def _forget_after_fork() -> None:
    # A forked child (a Celery prefork worker) starts its own pool when it needs one; the
    # parent's processes and lock stay the parent's.
    global _default, _default_lock
    _default_lock = threading.Lock()
    if _default is not None:
        _default.abandon()
    _default = None


atexit.register(close_default_pool)
os.register_at_fork(after_in_child=_forget_after_fork)
