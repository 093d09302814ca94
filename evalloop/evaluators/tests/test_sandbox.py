"""The sandbox: what user code may do, what it may not, and that the pool outlives both."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from evalloop.evaluators.sandbox import SandboxPool, code_problems
from evalloop.evaluators.sandbox import pool as pool_module
from evalloop.evaluators.sandbox.child import MAX_OUTPUT_BYTES

MEMORY_MB = 128
TIMEOUT = 0.5  # seconds; the setting's own default (5 s) would make the suite slow
ROW = {
    "input": "What is the capital of France?",
    "output": "Paris is the capital of France.",
    "expected_output": "Paris",
    "history": [],
    "context": {"lang": "en", "threshold": 3},
    "participant_data": {},
    "state": {},
}
HEALTHY = """
def evaluate(row):
    return {"words": len(row["output"].split())}
"""


def code(body: str) -> str:
    return textwrap.dedent(body).strip() + "\n"


def function(body: str) -> str:
    """`body` as the body of evaluate(row)."""
    return "def evaluate(row):\n" + textwrap.indent(code(body), "    ")


@pytest.fixture(scope="module")
def pool():
    shared = SandboxPool(size=2, timeout=TIMEOUT, memory_mb=MEMORY_MB)
    yield shared
    shared.close()


def only(pool: SandboxPool, source: str, row: dict | None = None):
    [answer] = pool.evaluate(source, [ROW if row is None else row])
    return answer


def assert_still_works(pool: SandboxPool) -> None:
    assert only(pool, HEALTHY).output == {"words": 6}


# Each escape: the code, and a fragment of the error it must end as.
REFUSED_WHEN_SAVED = {
    "dunder walk to object.__subclasses__": (
        function('return {"x": ().__class__.__bases__[0].__subclasses__()}'),
        '"__subclasses__" is an invalid attribute name',
    ),
    "__import__": (function("__import__('os')"), '"__import__" is an invalid variable name'),
    "__builtins__": (
        function("return __builtins__['open']('/etc/passwd')"),
        '"__builtins__" is an invalid variable name',
    ),
    "generator frame": (
        function("g = (i for i in [1])\nreturn {'x': g.gi_frame}"),
        '"gi_frame" is a restricted name',
    ),
    "traceback frame": (
        function(
            """
            try:
                1 / 0
            except Exception as exc:
                return {"x": exc.__traceback__}
            """
        ),
        '"__traceback__" is an invalid attribute name',
    ),
    "sys._getframe": (
        function("import sys\nreturn {'x': sys._getframe(0)}"),
        '"_getframe" is an invalid attribute name',
    ),
    "exec": (function("exec('import os')"), "Exec calls are not allowed"),
    "eval": (function("return eval('1')"), "Eval calls are not allowed"),
}

REFUSED_WHEN_RUN = {
    "open": (function("return {'x': open('/etc/passwd').read()}"), "NameError: name 'open'"),
    "import os": (function("import os"), "ImportError: import of os is not allowed"),
    "import subprocess": (
        function("import subprocess\nsubprocess.run(['id'])"),
        "ImportError: import of subprocess is not allowed",
    ),
    "sys": (function("import sys\nreturn {'x': sys.modules}"), "import of sys is not allowed"),
    "getattr __globals__": (
        function("return {'x': getattr(evaluate, '__globals__')}"),
        '"__globals__" is an invalid attribute name',
    ),
    "getattr on a module's function": (
        function("import json\nreturn {'x': getattr(json.loads, '__globals__')['sys']}"),
        '"__globals__" is an invalid attribute name',
    ),
    "getattr frame of a generator": (
        function("g = (i for i in [1])\nreturn {'x': getattr(g, 'gi_frame')}"),
        '"gi_frame" is a restricted name',
    ),
    "getattr traceback of an exception": (
        function(
            """
            try:
                1 / 0
            except Exception as exc:
                return {"x": getattr(exc, "__traceback__")}
            """
        ),
        '"__traceback__" is an invalid attribute name',
    ),
    "format attribute access": (
        function("return {'x': '{0.__class__.__base__}'.format(row)}"),
        "format*() methods of `str` is not safe",
    ),
    "format_map attribute access": (
        function("return {'x': str.format_map('{r.__class__}', {'r': row})}"),
        "format*() methods of `str` is not safe",
    ),
    "compile": (function("compile('1', 'x', 'eval')"), "NameError: name 'compile'"),
    "type with three arguments": (
        function("type('X', (), {})"),
        "NameError: name 'type' is not defined",
    ),
    "vars": (function("return vars()"), "NameError: name 'vars'"),
    "globals": (function("return globals()"), "NameError: name 'globals'"),
    "a module imported by an allowed one": (
        function("import json\nreturn {'x': json.codecs.open('/etc/passwd').read()}"),
        "has no attribute 'codecs'",
    ),
    "sys through statistics": (
        function("from statistics import sys"),
        "cannot import name 'sys'",
    ),
    "a submodule": (function("import json.decoder"), "import of json.decoder is not allowed"),
    "a class walk to object": (
        function(
            """
            class A:
                pass
            return {"x": getattr(A.mro()[-1], "__subclasses__")()}
            """
        ),
        '"__subclasses__" is an invalid attribute name',
    ),
    "changing an allowed module": (
        function("import json\njson.dumps = None"),
        "TypeError: attribute-less object",
    ),
    "SystemExit": (function("raise SystemExit(3)"), "SystemExit: 3 at line 2"),
}


@pytest.mark.parametrize(
    ("source", "error"), REFUSED_WHEN_SAVED.values(), ids=REFUSED_WHEN_SAVED.keys()
)
def test_it_refuses_escapes_when_saving_and_when_running(pool, source, error):
    [problem] = code_problems(source)
    assert error in problem.message
    assert problem.line is not None
    answer = only(pool, source)
    assert answer.output is None
    assert answer.error.startswith("the code cannot run: line ")
    assert error in answer.error
    assert_still_works(pool)


@pytest.mark.parametrize(
    ("source", "error"), REFUSED_WHEN_RUN.values(), ids=REFUSED_WHEN_RUN.keys()
)
def test_an_escape_at_run_time_is_an_error_and_the_process_lives_on(pool, source, error):
    assert code_problems(source) == []
    pids = set(pool.pids())
    answer = only(pool, source)
    assert answer.output is None
    assert error in answer.error
    assert_still_works(pool)
    assert set(pool.pids()) == pids  # no restart was needed


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (function("while True:\n    pass"), f"evaluate() took longer than {TIMEOUT:g} s"),
        (
            function("import re\nreturn {'x': bool(re.match(r'(a+)+$', 'a' * 64 + 'b'))}"),
            f"evaluate() took longer than {TIMEOUT:g} s",
        ),
        (function("return {'x': 'x' * 10**10}"), f"memory limit exceeded ({MEMORY_MB} MB)"),
        (
            function("grown = []\nwhile True:\n    grown.append([0] * 100000)"),
            f"memory limit exceeded ({MEMORY_MB} MB)",
        ),
        (
            function("return evaluate(row)"),
            "RecursionError: maximum recursion depth exceeded at line 2",
        ),
    ],
    ids=["infinite loop", "catastrophic regex", "memory bomb", "growing list", "deep recursion"],
)
def test_runaway_code_is_stopped_with_a_clear_error(pool, source, error):
    started = time.monotonic()
    answer = only(pool, source)
    assert answer.output is None
    assert answer.error == error
    assert time.monotonic() - started < TIMEOUT + 3
    assert_still_works(pool)


def test_a_function_reads_the_row_and_answers_numbers_booleans_and_text(pool):
    source = function(
        """
        words = row["output"].split()
        return {
            "words": len(words),
            "long": len(words) > row["context"]["threshold"],
            "lang": row["context"]["lang"],
            "ratio": len(words) / 2,
            "nothing": None,
        }
        """
    )
    answer = only(pool, source)
    assert answer.error == ""
    assert answer.output == {"words": 6, "long": True, "lang": "en", "ratio": 3.0, "nothing": None}


def test_the_allowed_modules_work(pool):
    source = code(
        """
        import json, math, re, statistics
        from datetime import datetime, timedelta

        def evaluate(row):
            found = re.findall(r"\\w+", row["output"])
            lengths = [len(word) for word in found]
            when = datetime(2024, 1, 1) + timedelta(days=1)
            return {
                "data": json.loads('{"a": 1}')["a"],
                "root": math.sqrt(16),
                "mean": statistics.mean(lengths),
                "day": when.strftime("%Y-%m-%d"),
                "parsed": datetime.strptime("2024-03-04", "%Y-%m-%d").month,
                "sorted": sorted(found, key=len)[0],
                "encoded": "é".encode("cp1252").decode("latin-1"),
            }
        """
    )
    answer = only(pool, source)
    assert answer.error == ""
    assert answer.output == {
        "data": 1,
        "root": 4.0,
        "mean": pytest.approx(25 / 6),
        "day": "2024-01-02",
        "parsed": 3,
        "sorted": "is",
        "encoded": "é",
    }


def test_an_exception_in_user_code_names_its_line(pool):
    source = function("total = 0\ntotal += missing\nreturn {'x': total}")
    assert only(pool, source).error == "NameError: name 'missing' is not defined at line 3"


def test_the_innermost_user_line_is_named_when_a_library_raises(pool):
    source = function("import json\n\nreturn json.loads(row['output'])")
    assert only(pool, source).error.startswith("JSONDecodeError: Expecting value")
    assert only(pool, source).error.endswith("at line 4")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("return 3", "the function must return a dict, not int"),
        ("return [1]", "the function must return a dict, not list"),
        ("return {1: True}", "the keys of the returned dict must be text"),
        ("return {'x': {1, 2}}", "the output is not JSON: Object of type set is not JSON"),
        ("return {'x': float('nan')}", "the output is not JSON: Out of range float values"),
        (
            f"return {{'x': 'y' * {MAX_OUTPUT_BYTES}}}",
            f"the output is larger than {MAX_OUTPUT_BYTES // 1024} KB",
        ),
    ],
)
def test_an_output_that_is_not_a_json_object_is_an_error(pool, body, error):
    assert only(pool, function(body)).error.startswith(error)


def test_code_without_an_evaluate_function_is_an_error(pool):
    source = "def score(row):\n    return {}\n"
    assert [str(p) for p in code_problems(source)] == [
        "the code must define a function evaluate(row) at the top level"
    ]
    assert only(pool, source).error == (
        "the code cannot run: the code must define a function evaluate(row) at the top level"
    )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def evaluate(row):\n    return {'x': 1\n", "line 2: SyntaxError: '{' was never closed"),
        ("def evaluate():\n    return {}\n", "the code must define a function evaluate(row)"),
        ("x = " + "+".join(["1"] * 30000) + "\ndef evaluate(row):\n    return {}\n", "nested"),
    ],
    ids=["syntax error", "no argument", "nested too deeply"],
)
def test_code_problems_say_what_and_where(source, problem):
    [found] = code_problems(source)
    assert problem in str(found)


def test_nothing_carries_over_from_one_row_to_the_next(pool):
    source = code(
        """
        seen = []

        def evaluate(row):
            seen.append(row["output"])
            print("printing is harmless")
            return {"seen": len(seen)}
        """
    )
    answers = pool.evaluate(source, [ROW, ROW, ROW])
    assert [answer.output for answer in answers] == [{"seen": 1}] * 3


def test_a_large_batch_answers_every_row_in_order(pool):
    rows = [{**ROW, "output": "word " * (i % 7)} for i in range(450)]  # three requests
    answers = pool.evaluate(HEALTHY, rows)
    assert [answer.output for answer in answers] == [{"words": i % 7} for i in range(450)]


def test_rows_after_a_timeout_are_still_evaluated(pool):
    source = function("while row['output'] == 'loop':\n    pass\nreturn {'ok': True}")
    rows = [ROW, {**ROW, "output": "loop"}, ROW]
    answers = pool.evaluate(source, rows)
    assert [answer.output for answer in answers] == [{"ok": True}, None, {"ok": True}]
    assert answers[1].error.startswith("evaluate() took longer than")


def test_a_batch_stops_trying_after_repeated_timeouts(pool):
    started = time.monotonic()
    answers = pool.evaluate(function("while True:\n    pass"), [ROW] * 6, timeout=0.2)
    assert [answer.error for answer in answers[:3]] == ["evaluate() took longer than 0.2 s"] * 3
    assert all(answer.error.startswith("skipped: 3 earlier rows") for answer in answers[3:])
    assert time.monotonic() - started < 4
    assert_still_works(pool)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


def test_a_killed_process_is_an_error_for_its_row_and_replaced(pool):
    assert_still_works(pool)
    idle = pool.pids()  # the row below takes one of these
    killer = threading.Timer(0.1, kill_all, args=(idle,))
    killer.start()
    answer = only(pool, function("while True:\n    pass"))
    killer.join()
    assert answer.error == (
        "the sandbox process was stopped by signal 9; the code may have run out of memory"
    )
    assert_still_works(pool)


def test_an_idle_process_that_died_is_replaced_transparently(pool):
    assert_still_works(pool)
    kill_all(pool.pids())
    time.sleep(0.1)
    assert_still_works(pool)


def test_calls_from_several_threads_share_the_pool(pool):
    results: list[object] = []

    def call(words: int) -> None:
        answers = pool.evaluate(HEALTHY, [{**ROW, "output": "w " * words}] * 50)
        results.append({answer.output["words"] for answer in answers} == {words})

    threads = [threading.Thread(target=call, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 4
    assert len(pool.pids()) <= 2


def test_the_process_runs_without_secrets_and_with_limits(pool):
    assert_still_works(pool)
    pid = pool.pids()[0]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert [item for item in environ if item] == [b"LC_ALL=C.UTF-8"]
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert f"Max address space         {MEMORY_MB * 1024 * 1024}" in limits
    assert "Max open files            3                    3" in limits
    assert "Max file size             0                    0" in limits
    assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]


def test_a_forked_process_starts_its_own_default_pool(settings):
    settings.EVALLOOP_PYTHON_WORKERS = 1
    pool_module.close_default_pool()
    try:
        parent = pool_module.default_pool()
        assert pool_module.default_pool() is parent
        pool_module._forget_after_fork()
        assert pool_module.default_pool() is not parent
    finally:
        pool_module.close_default_pool()


def test_a_sandbox_that_cannot_start_is_an_error_for_every_row(monkeypatch, caplog):
    monkeypatch.setattr(pool_module, "CHILD_MODULE", "evalloop.evaluators.sandbox.missing")
    broken = SandboxPool(size=1, timeout=TIMEOUT, memory_mb=MEMORY_MB)
    answers = broken.evaluate(HEALTHY, [ROW, ROW])
    assert [answer.error for answer in answers] == [
        "the python sandbox did not start: the sandbox process stopped (exit status 1)"
    ] * 2
    assert "could not start" in caplog.text
