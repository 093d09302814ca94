"""The sandbox process: compiles user code, runs it on rows, answers one frame per row.

Started by the pool as `python -E -s -m evalloop.evaluators.sandbox.child <memory MB>` with an
empty environment and no inherited descriptors but its pipes. It warms up everything user
code may need, then limits itself (address space, no new files or processes, nothing
written to disk) before it reads the first request. It never imports Django.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import json
import math
import os
import re
import resource
import sys
import time
from functools import lru_cache
from types import CodeType
from typing import Any

from evalloop.evaluators.sandbox.policy import (
    FUNCTION,
    CodeProblem,
    compile_code,
    fresh_globals,
    user_line,
)
from evalloop.evaluators.sandbox.protocol import encode, read_blocking, write_all

MAX_OUTPUT_BYTES = 64 * 1024
MAX_ERROR_CHARS = 500
# CPU seconds allowed for reading a request and compiling its code; rows get the request's own.
REQUEST_CPU_SECONDS = 30
ANSWERS = 1  # stdout, the pipe the pool reads
# Encodings `str.encode` and `bytes.decode` may name; each is a module loaded on first use.
CODECS = (
    "ascii",
    "latin-1",
    "cp1252",
    "utf-16",
    "utf-32",
    "idna",
    "punycode",
    "unicode_escape",
    "raw_unicode_escape",
    "base64",
    "hex",
)


class Refused(Exception):
    """An evaluation that ended without an output, and why."""


def main() -> None:
    memory_mb = int(sys.argv[1])
    requests = sys.stdin.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the answer pipe
    _warm_up()
    _limit(memory_mb)
    write_all(ANSWERS, encode({"ready": True}))
    try:
        while True:
            _budget_cpu(REQUEST_CPU_SECONDS)
            request = read_blocking(requests)
            if request is None:
                return
            _serve(request, memory_mb)
    except BrokenPipeError:
        return  # the pool went away


def _serve(request: dict[str, Any], memory_mb: int) -> None:
    compiled = _compiled(request["code"])
    write_all(ANSWERS, encode({"compiled": not isinstance(compiled, CodeProblem)}))
    for row in request["rows"]:
        _budget_cpu(request["timeout"])
        write_all(ANSWERS, _answer(compiled, row, memory_mb))


@lru_cache(maxsize=32)
def _compiled(code: str) -> CodeType | CodeProblem:
    """Compiled once per process: a batch of rows, or the next batch, reuses it."""
    return compile_code(code)


def _answer(compiled: CodeType | CodeProblem, row: Any, memory_mb: int) -> bytes:
    started = time.perf_counter()
    key, body = "output", ""
    try:
        body = _encoded(_call(compiled, row))
    except Refused as exc:
        key, body = "error", json.dumps(str(exc))
    except MemoryError:
        key, body = "error", json.dumps(f"memory limit exceeded ({memory_mb} MB)")
    except BaseException as exc:  # whatever user code raises, even SystemExit
        key, body = "error", json.dumps(describe(exc))
    ms = round((time.perf_counter() - started) * 1000)
    return encode(f'{{"ms": {ms}, "{key}": {body}}}'.encode())


def _call(compiled: CodeType | CodeProblem, row: Any) -> Any:
    if isinstance(compiled, CodeProblem):
        raise Refused(f"the code cannot run: {compiled}")
    namespace = fresh_globals()
    exec(compiled, namespace)
    function = namespace.get(FUNCTION)
    if not callable(function):
        raise Refused(f"the code defines no function {FUNCTION}(row)")
    return function(row)


def _encoded(result: Any) -> str:
    if not isinstance(result, dict):
        raise Refused(f"the function must return a dict, not {type(result).__name__}")
    if not all(isinstance(key, str) for key in result):
        raise Refused("the keys of the returned dict must be text")
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Refused(f"the output is not JSON: {_text(exc)}") from None
    if len(text) > MAX_OUTPUT_BYTES:
        raise Refused(f"the output is larger than {MAX_OUTPUT_BYTES // 1024} KB")
    return text


def describe(exc: BaseException) -> str:
    """`NameError: name 'x' is not defined at line 3`."""
    text = _text(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    line = user_line(exc.__traceback__)
    return f"{message} at line {line}" if line else message


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[: MAX_ERROR_CHARS * 2]
    except BaseException:  # str() of an exception may itself fail, e.g. out of memory
        return ""


def _warm_up() -> None:
    """Load now whatever allowed code loads lazily: files cannot be opened later."""
    datetime.datetime.strptime("2000-01-02", "%Y-%m-%d")
    datetime.datetime.now().astimezone()
    re.compile(r"\w+", re.IGNORECASE).fullmatch("warm")
    json.loads(json.dumps({"warm": [1.5, True, None]}))
    for encoding in CODECS:
        codecs.lookup(encoding)
    _compiled(f"def {FUNCTION}(row):\n    return {{}}\n")
    os.chdir("/")


def _limit(memory_mb: int) -> None:
    """Cap memory; forbid new descriptors (files, sockets), writing files and core dumps."""
    size = memory_mb * 1024 * 1024
    for limit, value in (
        (resource.RLIMIT_AS, size),
        (resource.RLIMIT_NOFILE, 3),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
    # Not on every platform, and ignored for root: descriptors and imports already stop a fork.
    with contextlib.suppress(AttributeError, ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _budget_cpu(seconds: float) -> None:
    """Let the kernel end the process after `seconds` more CPU, even if the pool is gone.

    The pool's wall-clock deadline answers first; this stops a loop in C (a regular
    expression backtracking) that outlives its pool, which a signal handler could not.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


if __name__ == "__main__":
    main()
