"""The dashboard on a large store: each panel's time and queries, the page, the query plans.

    uv run python bench/dashboard.py                          # 1M messages
    uv run python bench/dashboard.py --messages 200000 --plans

PostgreSQL only (the plans are the point): a scratch database (see scratch.py) gets one team
with --chatbots chatbots and --messages messages in sessions of 8, spread evenly over the
last --days days; a rule whose dataset holds --rule-rows rows of the same spread; --configs
auto-running configs sharing --runs completed delta runs of two aggregates each, one config
running seldom (a run in a thousand) to show that its few runs are found quickly; and a new
team with nothing yet, whose getting-started list must not read the first team's data. The panels
are measured with the week's worst case, seven full days (today: the last 24 hours), so
the figures do not depend on the weekday of the run: median of --repeat after a warm-up.
With --plans, every SELECT of every panel is printed with EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from scratch import scratch_environment

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "evalloop_dashboardbench"
PER_SESSION = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chatbots", type=int, default=5)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rule-rows", type=int, default=200_000)
    parser.add_argument("--configs", type=int, default=5, help="at least 2")
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--plans", action="store_true", help="print the query plans")
    parser.add_argument("--scratch-db", default=SCRATCH_DB, help="PostgreSQL scratch database")
    args = parser.parse_args()
    with scratch_environment("postgres", args.scratch_db) as env:
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        began = time.perf_counter()
        team = seed(args)
        log(f"seeded in {time.perf_counter() - began:.0f} s")
        report(team, args)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sql(statement: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)


# Seeding: set-based INSERTs, times spread evenly from --days ago to now


def spread(count: int, days: int) -> str:
    """The SQL time of item `i` of `count`, the last one a few minutes ago."""
    return f"now() - interval '10 minutes' - ({days} * interval '1 day') * (1 - i::float / {count})"


def seed(args: Any) -> Any:
    from django.core.management import call_command

    from evalloop.datasets.models import Dataset
    from evalloop.teams import flags
    from evalloop.teams import services as teams
    from evalloop.teams.models import Team, User

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench@example.com", "bench pass phrase")
    team = teams.create_team(slug="bench", name="Bench", owner=owner)
    teams.set_team_flag(team=team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    teams.create_api_key(team=team, name="bench")
    chatbots = seed_traffic(team, args)
    seed_rule(team, chatbots[0], args)
    seed_runs(team, args)
    newcomer = teams.create_team(slug="new", name="New", owner=owner)
    Dataset.objects.create(team=newcomer, name="Empty", mode="session")
    sql("VACUUM ANALYZE")  # a live store has statistics and visibility maps; a new one not yet
    return Team.objects.get(slug="bench")


def seed_traffic(team: Any, args: Any) -> list[Any]:
    from evalloop.chat import services as chat

    chatbots = [
        chat.create_chatbot(team=team, slug=f"bot-{n}", name=f"Bot {n}")
        for n in range(args.chatbots)
    ]
    first, count = chatbots[0].pk, args.messages // PER_SESSION
    sql(
        "INSERT INTO chat_session (team_id, chatbot_id, external_id, participant, channel, "
        "version, state, participant_data, message_count, created_at, last_message_at, "
        "ended_at, changed_at) "
        f"SELECT {team.pk}, {first} + mod(i, {len(chatbots)}), 's-' || i, '', 'web', 'v1', "
        f"'{{}}', '{{}}', {PER_SESSION}, t, t + interval '7 minutes', "
        "t + interval '7 minutes', t + interval '7 minutes' "
        f"FROM generate_series(1, {count}) AS i, LATERAL (SELECT {spread(count, args.days)} "
        "- interval '8 minutes' AS t) AS x"
    )
    log(f"  {count:,} sessions")
    sql(
        "INSERT INTO chat_message (session_id, role, content, created_at, metadata) "
        "SELECT s.id, CASE WHEN mod(m, 2) = 0 THEN 'human' ELSE 'ai' END, "
        "'Turn ' || m || ': lorem ipsum dolor sit amet', "
        "s.created_at + m * interval '1 minute', '{}' "
        f"FROM chat_session s, generate_series(0, {PER_SESSION - 1}) AS m "
        f"WHERE s.team_id = {team.pk} ORDER BY s.id, m"
    )
    log(f"  {count * PER_SESSION:,} messages")
    return chatbots


def seed_rule(team: Any, chatbot: Any, args: Any) -> None:
    from evalloop.autopopulate.services import create_rule
    from evalloop.datasets.models import Dataset

    dataset = Dataset.objects.create(team=team, name="From bot 0", mode="session")
    rule = create_rule(dataset=dataset, chatbot=chatbot)
    count = args.rule_rows
    sql(
        "INSERT INTO datasets_row (dataset_id, input, output, history, context, "
        "participant_data, state, expected_output, origin, rule_id, created_at) "
        f"SELECT {dataset.pk}, '', '', '[]', '{{}}', '{{}}', '{{}}', '', 'rule', {rule.pk}, "
        f"{spread(count, args.days)} FROM generate_series(1, {count}) AS i"
    )
    log(f"  {count:,} rows of a rule")


def seed_runs(team: Any, args: Any) -> None:
    from evalloop.datasets.models import Dataset
    from evalloop.evaluators.services import create_evaluator
    from evalloop.runs.services import create_config

    dataset = Dataset.objects.create(team=team, name="Scored", mode="message")
    evaluator = create_evaluator(team=team, name="Size", kind="length", params={"max": 300})
    configs = [
        create_config(
            team=team,
            name=f"Auto {n}",
            dataset=dataset,
            evaluators=[evaluator],
            auto_run_on_append=True,
        )
        for n in range(args.configs)
    ]
    first, count = configs[0].pk, args.runs
    sql(
        'INSERT INTO runs_run (team_id, config_id, type, status, "trigger", trigger_label, '
        "scope_size, total, done, errors, input_tokens, output_tokens, stalls, error, "
        "created_at, started_at, last_progress_at, finished_at, finalized_at) "
        # The first config runs seldom (one run in a thousand), the others share the rest.
        f"SELECT {team.pk}, {first} + CASE WHEN mod(i, 1000) = 0 THEN 0 "
        f"ELSE 1 + mod(i, {len(configs) - 1}) END, 'delta', 'completed', 'rule', "
        "'', 10, 10, 10, 0, 0, 0, 0, '', t, t, t, t, t "
        f"FROM generate_series(1, {count}) AS i, "
        f"LATERAL (SELECT {spread(count, args.days)} AS t) AS x"
    )
    version = evaluator.version_id
    sql(
        "INSERT INTO runs_aggregate (run_id, version_id, field, field_type, count, errors, "
        "mean, median, minimum, maximum, stddev, true_count, distribution) "
        f"SELECT id, {version}, 'length', 'number', 10, 0, 40 + random() * 10, 45, 10, 80, "
        f"5, NULL, '{{}}'::jsonb FROM runs_run WHERE team_id = {team.pk} "
        f"UNION ALL SELECT id, {version}, 'within', 'boolean', 10, 0, NULL, NULL, NULL, "
        f"NULL, NULL, floor(random() * 11)::int, '{{}}'::jsonb "
        f"FROM runs_run WHERE team_id = {team.pk}"
    )
    log(f"  {count:,} runs of {len(configs)} auto-running configs")


# Measuring


def report(team: Any, args: Any) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from evalloop.teams.models import Team
    from evalloop.teams.permissions import Role
    from evalloop.web import dashboard

    newcomer = Team.objects.get(slug="new")
    now = timezone.now()
    worst = dashboard.Periods(today=now - timedelta(days=1), week=now - timedelta(days=7))
    dashboard.periods = lambda moment: worst  # type: ignore[assignment]
    panels: dict[str, Callable[[], Any]] = {
        "traffic": lambda: dashboard.traffic(team, worst),
        "rule health": lambda: dashboard.rule_health(team, worst),
        "recent runs": lambda: dashboard.recent_runs(team),
        "trends": lambda: dashboard.auto_run_trends(team),
        "getting started": lambda: dashboard.checklist(team, Role.OWNER, auto_populate=True),
        # A team with nothing yet: every "exists?" must fail fast, not scan the others' data.
        "getting started, new team": lambda: dashboard.checklist(
            newcomer, Role.OWNER, auto_populate=True
        ),
    }
    client = Client()
    client.force_login(team.memberships.get().user)
    client.post("/teams/switch/", {"team": team.slug})
    page = client.get("/")
    if page.status_code != 200 or b"Bot 0" not in page.content:
        sys.exit(f"the dashboard of the bench team did not show: {page.status_code}")
    panels["whole page"] = lambda: client.get("/")

    messages_week = dashboard.traffic(team, worst).total.messages_week
    print(f"\n{args.messages:,} messages over {args.days} days ({messages_week:,} in the week), ")
    print(f"{args.rule_rows:,} rule rows, {args.runs:,} runs; load average ", end="")
    print(f"{os.getloadavg()[0]:.1f}\n")
    print("| panel | median ms | queries |")
    print("| --- | --- | --- |")
    for name, work in panels.items():
        work()  # warm-up: the connection, the caches
        took = [timed(work) for _ in range(args.repeat)]
        with CaptureQueriesContext(connection) as queries:
            work()
        print(f"| {name} | {statistics.median(took):.1f} | {len(queries)} |", flush=True)
    if args.plans:
        for name, work in panels.items():
            if name != "whole page":
                print_plans(name, work)


def timed(work: Callable[[], Any]) -> float:
    began = time.perf_counter()
    work()
    return (time.perf_counter() - began) * 1000


def print_plans(name: str, work: Callable[[], Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        work()
    for query in queries.captured_queries:
        print(f"\n### {name}\n\n    {query['sql']}\n")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            for (line,) in cursor.fetchall():
                print(f"    {line}")


if __name__ == "__main__":
    main()
