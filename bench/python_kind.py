"""Time the python evaluator kind: evaluations per second of a trivial evaluate() over N rows.

    uv run python bench/python_kind.py --rows 2000

Rows go through `get_kind("python").evaluate_many`, as a run batch does, with an unsaved
evaluator version: no database is touched, and settings point at a temporary data dir. The
first call starts the pool's sandbox processes; the figure is the best of the timed calls
after it. The peak resident memory of each sandbox process (VmHWM) is read from /proc.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = """
def evaluate(row):
    return {"words": len(row["output"].split()), "long": len(row["output"]) > 40}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5, help="timed calls after the first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evalloop-bench-") as folder:
        os.environ["EVALLOOP_DATA_DIR"] = folder
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        run(args.rows, args.repeat)


def run(count: int, repeat: int) -> None:
    from evalloop.evaluators.kinds import get_kind
    from evalloop.evaluators.kinds.base import ROW_KEYS
    from evalloop.evaluators.models import EvaluatorVersion
    from evalloop.evaluators.sandbox import close_default_pool, default_pool

    version = EvaluatorVersion(kind="python", params={"code": TRIVIAL}, name="bench")
    empty = dict.fromkeys(ROW_KEYS)
    rows = [
        {**empty, "input": f"question {i}", "output": "word " * (i % 30), "context": {"n": i}}
        for i in range(count)
    ]
    kind = get_kind("python")
    started = time.perf_counter()
    outcomes = kind.evaluate_many(version=version, rows=rows)
    cold = time.perf_counter() - started
    assert all(outcome.ok for outcome in outcomes), outcomes[0]
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        kind.evaluate_many(version=version, rows=rows)
        timings.append(time.perf_counter() - started)
    pids = default_pool().pids()
    peaks = [peak_rss_mb(pid) for pid in pids]
    close_default_pool()
    print(f"rows: {count:,}, sandbox processes: {len(pids)}")
    print(f"first call (starts a process): {count / cold:,.0f} evaluations/s")
    print(f"warm, best of {repeat}: {count / min(timings):,.0f} evaluations/s")
    print(f"peak RSS per sandbox process: {', '.join(f'{peak:.1f} MB' for peak in peaks)}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
