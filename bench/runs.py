"""Runs: results per second of one worker, by evaluator kind, and the worker's peak memory.

    uv run python bench/runs.py                          # every section, both databases
    uv run python bench/runs.py --db postgres --sections deterministic --large

Sections:
- deterministic: a full run of `--rows` rows (10k) x 3 deterministic evaluators (`contains`,
  `regex`, `length`); `--large` adds a 100k-row run, whose peak RSS shows memory stays flat.
- python: the python kind on `--python-rows` rows (2k).
- judge: an LLM judge against a local OpenAI-compatible server that answers after 200 ms,
  on `--judge-rows` rows (640), at EVALLOOP_LLM_CONCURRENCY 32.

For each database a scratch store is made (see scratch.py). Each measurement seeds its
dataset in a child process, then runs in a fresh child, so the peak RSS is the run's own.
The run goes the way a worker runs it, without a broker: the coordinator's passes claim
batches and each batch's work (`evalloop.runs.batches.run_batch`) runs in-process, one
after another, as one worker would. Prints a Markdown table; figures go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scratch import scratch_environment

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "evalloop_bench_runs"
SEED_BATCH = 5_000
JUDGE_DELAY_MS = 200
JUDGE_CONCURRENCY = 32

DETERMINISTIC = [
    ("contains", {"words": ["refund", "invoice"]}),
    ("regex", {"pattern": r"order #\d+"}),
    ("length", {"unit": "words", "min": 5, "max": 80}),
]
PYTHON_CODE = """def evaluate(row):
    words = row["output"].split()
    return {"words": len(words), "polite": "please" in row["output"]}
"""
PYTHON_SCHEMA = {
    "fields": [{"name": "words", "type": "number"}, {"name": "polite", "type": "boolean"}]
}
JUDGE_SCHEMA = {"fields": [{"name": "score", "type": "number", "min": 1, "max": 5}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--sections", default="deterministic,python,judge")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the deterministic run")
    parser.add_argument("--large", action="store_true", help="add a 100k-row deterministic run")
    parser.add_argument("--python-rows", type=int, default=2_000)
    parser.add_argument("--judge-rows", type=int, default=640)
    parser.add_argument("--child", choices=["seed", "run", "llm-server"], help=argparse.SUPPRESS)
    parser.add_argument("--section", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(
        "| database | section | rows | evaluators | results | plan s | run s | results/s "
        "| aggregates s | peak RSS (MB) | load avg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for db in args.db.split(","):
        with scratch_environment(db.strip(), SCRATCH_DB) as env:
            for section, size in plan(args):
                spawn(env, "seed", section=section, size=size)
                outcome = json.loads(spawn(env, "run", section=section, size=size))
                print(row(db, section, size, outcome), flush=True)


def plan(args: Any) -> list[tuple[str, int]]:
    sizes = {"deterministic": [args.rows], "python": [args.python_rows], "judge": [args.judge_rows]}
    if args.large:
        sizes["deterministic"].append(100_000)
    return [(s, size) for s in args.sections.split(",") for size in sizes[s.strip()]]


def row(db: str, section: str, size: int, outcome: dict[str, Any]) -> str:
    if "skipped" in outcome:
        return f"| {db} | {section} | {size:,} | skipped: {outcome['skipped']} |"
    return (
        f"| {db} | {section} | {size:,} | {outcome['evaluators']} | {outcome['results']:,} | "
        f"{outcome['plan_seconds']:.1f} | {outcome['seconds']:.1f} | "
        f"{outcome['results'] / outcome['seconds']:,.0f} | {outcome['aggregate_seconds']:.1f} | "
        f"{outcome['peak_mb']:.0f} | {os.getloadavg()[0]:.1f} |"
    )


def spawn(env: dict[str, str], what: str, **options: Any) -> str:
    flags = [f"--{name}={value}" for name, value in options.items()]
    command = [sys.executable, __file__, f"--child={what}", *flags]
    env = {**env, "EVALLOOP_LLM_CONCURRENCY": str(JUDGE_CONCURRENCY)}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "child failed")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


# Children


def child(args: Any) -> None:
    sys.path.insert(0, str(ROOT))
    if args.child == "llm-server":
        serve_llm()
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.child == "seed":
        seed(args.section, args.size)
    else:
        print(json.dumps(measure(args.section, args.size)))


def seed(section: str, size: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from evalloop.datasets.models import Dataset, Mode, Origin, Row
    from evalloop.teams.models import Team

    call_command("migrate", verbosity=0)
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    dataset = Dataset.objects.create(team=team, name=f"{section} {size}", mode=Mode.MESSAGE)
    for start in range(0, size, SEED_BATCH):
        with transaction.atomic():
            Row.objects.bulk_create(
                Row(
                    dataset=dataset,
                    origin=Origin.MANUAL,
                    input=f"Where is my order #{i}? I asked for a refund last week.",
                    output=reply(i),
                    history=[
                        {"role": "human", "content": "hello"},
                        {"role": "ai", "content": "hi"},
                    ],
                    context={"tags": ["vip"] if i % 10 == 0 else [], "channel": "web"},
                )
                for i in range(start, min(start + SEED_BATCH, size))
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def reply(i: int) -> str:
    base = f"Thanks for waiting. Your order #{i} is on its way; the invoice is attached. "
    return base + "Please tell us if anything else comes up. " * (i % 4)


def measure(section: str, size: int) -> dict[str, Any]:
    from evalloop.datasets.models import Dataset

    dataset = Dataset.objects.get(name=f"{section} {size}")
    if section == "judge":
        return measure_judge(dataset)
    made = evaluators_for(section, dataset.team)
    if isinstance(made, str):
        return {"skipped": made}
    return run_once(dataset, made)


def evaluators_for(section: str, team: Any) -> list[Any] | str:
    from evalloop.evaluators.kinds import REGISTRY

    if section == "deterministic":
        missing = [kind for kind, _ in DETERMINISTIC if kind not in REGISTRY]
        if missing:
            sys.exit(f"The {', '.join(missing)} kinds are not registered on this branch yet.")
        return [evaluator(team, kind, params) for kind, params in DETERMINISTIC]
    if "python" not in REGISTRY:
        return "the python kind is not registered on this branch yet"
    return [evaluator(team, "python", {"code": PYTHON_CODE}, PYTHON_SCHEMA)]


def evaluator(team: Any, kind_name: str, params: dict[str, Any], schema: Any = None) -> Any:
    """An evaluator and its version, made the way the form and the API make them."""
    from evalloop.evaluators.models import Evaluator
    from evalloop.evaluators.services import create_evaluator

    name = f"{kind_name} {Evaluator.objects.count() + 1}"
    return create_evaluator(
        team=team, name=name, kind=kind_name, params=params, output_schema=schema
    )


def measure_judge(dataset: Any) -> dict[str, Any]:
    with llm_server_process() as url:
        judge = evaluator(
            dataset.team,
            "llm_judge",
            {
                "provider": provider(dataset.team, url).pk,
                "model": "bench",
                "prompt": "Rate this answer from 1 to 5.\n\n{{input}}\n\n{{output}}",
            },
            JUDGE_SCHEMA,
        )
        return run_once(dataset, [judge])


@contextmanager
def llm_server_process() -> Iterator[str]:
    """The local LLM server in a process of its own, as a real provider is on its own machine.

    In the worker's process its request handling would take turns with the worker's own
    Python code and be counted as the worker's cost.
    """
    command = [sys.executable, __file__, "--child=llm-server"]
    server = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().decode().strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def serve_llm() -> None:
    """Answer as an LLM provider after JUDGE_DELAY_MS, until stdin closes or a signal comes."""
    from evalloop.evaluators.tests.llm_server import Step, serve

    with serve(default=Step(answer={"score": 4}, delay_ms=JUDGE_DELAY_MS)) as server:
        print(server.openai_url, flush=True)
        sys.stdin.read()


def provider(team: Any, base_url: str) -> Any:
    from evalloop.evaluators.provider_services import create_provider

    return create_provider(
        team=team, name="bench", kind="openai", api_key="bench-key", base_url=base_url
    )


def run_once(dataset: Any, evaluators: list[Any]) -> dict[str, Any]:
    from evalloop.runs import aggregates, batches, coordinator, services
    from evalloop.runs.models import Run, RunType, Trigger

    # One worker, no broker: the coordinator's passes do each claimed batch in-process.
    services._kick_on_commit = lambda run: None  # type: ignore[assignment]
    coordinator.dispatch = lambda ids: [batches.run_batch(batch_id=i) for i in ids]  # type: ignore[assignment,misc]
    config = services.create_config(
        team=dataset.team, name=dataset.name, dataset=dataset, evaluators=evaluators
    )
    began = time.perf_counter()
    run = services.start_run(config=config, type=RunType.FULL, trigger=Trigger.USER)
    planned = time.perf_counter()
    coordinator.drive_run(run_id=run.pk)
    ran = time.perf_counter()
    run = Run.objects.get(pk=run.pk)
    aggregates.compute_aggregates(run=run)
    finalized = time.perf_counter()
    if run.status != "completed":
        sys.exit(f"The run ended {run.status}: {run.error}")
    return {
        "evaluators": len(evaluators),
        "results": run.done,
        "plan_seconds": planned - began,
        "seconds": ran - planned,
        "aggregate_seconds": finalized - ran,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    main()
