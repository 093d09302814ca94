"""The team home's panels: traffic, rule health, recent runs, trends, getting started.

Each panel costs a fixed number of queries whatever the number of chatbots, rules, configs
or runs: counts are grouped in the database and related objects come in one query per kind.
Days are UTC days and weeks start on Monday at 00:00 UTC: a team has no time zone of its own,
and a config's daily cap is counted in UTC days too.

Traffic is counted through the activity columns the store already indexes: a session had
traffic in a period when its last message falls in it (`session_last_message_idx`), and the
period's messages are read from those sessions only (`message_session_time_idx`), so a count
reads the period's traffic, never the whole history. See bench/dashboard.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.urls import reverse
from django.utils.safestring import SafeString

from evalloop.autopopulate.models import Rule, Status
from evalloop.chat.models import Chatbot, Message, Session
from evalloop.datasets.models import Dataset, Row
from evalloop.runs import trends
from evalloop.runs.models import Aggregate, Config, FieldType, Run, RunStatus, RunType
from evalloop.teams.models import ApiKey, Team
from evalloop.teams.permissions import Action, can
from evalloop.web.sparklines import sparkline

TRAFFIC_ROWS = 10  # chatbots listed; the totals count them all
RULE_ROWS = 10  # rules listed, those needing attention first
TREND_CONFIGS = 6  # auto-running configs drawn, the latest to run first
RECENT_RUNS = 5
HEADLINES = 3  # aggregates shown per run
SPARK_RUNS = 30  # the latest completed runs drawn per config
SPARKS_PER_CONFIG = 3
# What a trend point and its series read of an aggregate, its run and its version.
TREND_FIELDS = (
    *("field", "field_type", "mean", "count", "true_count"),
    *("run__config_id", "run__type", "run__finished_at"),
    *("version__name", "version__digest"),
)


# Periods


@dataclass(frozen=True)
class Periods:
    today: datetime  # 00:00 UTC today
    week: datetime  # 00:00 UTC on this week's Monday

    @property
    def label(self) -> str:
        monday = f"{self.week:%A} {self.week.day} {self.week:%B}"
        return f"Days are UTC days; this week began on {monday} at 00:00 UTC."


def periods(now: datetime) -> Periods:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Periods(today=day, week=day - timedelta(days=day.weekday()))


# Traffic


@dataclass
class Counts:
    sessions_today: int = 0
    sessions_week: int = 0
    messages_today: int = 0
    messages_week: int = 0

    def add(self, other: Counts) -> None:
        self.sessions_today += other.sessions_today
        self.sessions_week += other.sessions_week
        self.messages_today += other.messages_today
        self.messages_week += other.messages_week


@dataclass(frozen=True)
class ChatbotTraffic:
    chatbot: Chatbot
    counts: Counts


@dataclass(frozen=True)
class Traffic:
    listed: list[ChatbotTraffic]  # the busiest first, at most TRAFFIC_ROWS
    unlisted: int  # chatbots left out of `listed`
    total: Counts


def traffic(team: Team, at: Periods) -> Traffic:
    """Sessions and messages per chatbot today and this week, in two queries."""
    chatbots = list(Chatbot.objects.for_team(team))
    counts = {chatbot.pk: Counts() for chatbot in chatbots}
    if chatbots:
        _count(counts, at)
    rows = [ChatbotTraffic(chatbot, counts[chatbot.pk]) for chatbot in chatbots]
    rows.sort(key=lambda row: (-row.counts.messages_week, -row.counts.sessions_week))
    total = Counts()
    for row in rows:
        total.add(row.counts)
    return Traffic(rows[:TRAFFIC_ROWS], max(0, len(rows) - TRAFFIC_ROWS), total)


def _messages_since(moment: datetime) -> Subquery:
    """The count of the outer session's messages since `moment`: a range of one index."""
    mine = Message.objects.filter(session=OuterRef("pk"), created_at__gte=moment).order_by()
    return Subquery(mine.values("session").annotate(n=Count("*")).values("n"))


def _count(counts: dict[int, Counts], at: Periods) -> None:
    # Only the sessions active this week can hold this week's messages (last_message_at is
    # the latest of their messages' times), and each counts its own: a join of all messages
    # since Monday would let the planner read the whole message table instead.
    active_today = Q(last_message_at__gte=at.today)
    found = (
        Session.objects.filter(chatbot_id__in=list(counts), last_message_at__gte=at.week)
        .order_by()
        .values("chatbot_id")
        .annotate(
            sessions_week=Count("*"),
            sessions_today=Count("last_message_at", filter=active_today),
            messages_week=Sum(_messages_since(at.week)),
            messages_today=Sum(
                Case(When(active_today, then=_messages_since(at.today)), default=Value(0))
            ),
        )
    )
    for each in found:
        chatbot = counts[each["chatbot_id"]]
        for name in ("sessions_week", "sessions_today", "messages_week", "messages_today"):
            setattr(chatbot, name, each[name] or 0)


# Rule health


@dataclass(frozen=True)
class RuleHealth:
    rule: Rule
    rows_today: int

    @property
    def failing(self) -> bool:
        return self.rule.last_status == Status.ERROR

    @property
    def needs_attention(self) -> bool:
        return self.failing or not self.rule.enabled


@dataclass(frozen=True)
class RuleHealthPanel:
    listed: list[RuleHealth]  # failing and disabled first, at most RULE_ROWS
    unlisted: int  # rules left out of `listed`


def rule_health(team: Team, at: Periods) -> RuleHealthPanel:
    """The team's rules with the rows each added today, failing and disabled first.

    At most RULE_ROWS of them, so that a team of thousands of rules still gets a small page;
    the count of the rest comes with them (a window over the same query).
    """
    attention = Case(
        When(Q(last_status=Status.ERROR) | Q(enabled=False), then=Value(0)), default=Value(1)
    )
    rules = list(
        Rule.objects.for_team(team)
        .select_related("dataset", "chatbot")
        .annotate(attention=attention, total=Window(Count("*")))
        .order_by("attention", "id")[:RULE_ROWS]
    )
    added = _rows_today([rule.pk for rule in rules], at) if rules else {}
    health = [RuleHealth(rule, added.get(rule.pk, 0)) for rule in rules]
    return RuleHealthPanel(health, rules[0].total - len(rules) if rules else 0)


def _rows_today(rule_ids: list[int], at: Periods) -> dict[int, int]:
    """The rows each rule added today, reading today's rows only.

    Rows are stamped when they are inserted, so today's rows are the newest ids: the count
    reads the id range after the newest row of an earlier day (a read of the primary key
    backwards, past today's rows) rather than every row a rule ever added. Only an id goes
    across teams, as a bound; the count itself is of the team's rules.
    """
    earlier = Row.objects.filter(created_at__lt=at.today).order_by("-id")
    after = earlier.values_list("id", flat=True).first() or 0
    today = (
        Row.objects.filter(rule_id__in=rule_ids, id__gt=after, created_at__gte=at.today)
        .order_by()
        .values("rule_id")
        .annotate(n=Count("*"))
    )
    return {found["rule_id"]: found["n"] for found in today}


# Recent runs


@dataclass(frozen=True)
class RecentRun:
    run: Run
    headlines: list[Aggregate]  # the first HEADLINES aggregates, in the run page's order
    more: int  # aggregates left out


def recent_runs(team: Team) -> list[RecentRun]:
    """The team's latest runs with their first aggregates, in two queries."""
    runs = list(Run.objects.for_team(team).select_related("config").order_by("-id")[:RECENT_RUNS])
    found: dict[int, list[Aggregate]] = {run.pk: [] for run in runs}
    if runs:
        aggregates = Aggregate.objects.filter(run_id__in=list(found)).select_related("version")
        for aggregate in aggregates.order_by("run_id", "id"):
            found[aggregate.run_id].append(aggregate)
    return [
        RecentRun(run, found[run.pk][:HEADLINES], max(0, len(found[run.pk]) - HEADLINES))
        for run in runs
    ]


# Trends of auto-running configs


@dataclass(frozen=True)
class Spark:
    """One field of a config's current evaluator version over its latest runs."""

    series: trends.Series
    values: list[float]

    @property
    def percent(self) -> bool:
        return self.series.field_type == FieldType.BOOLEAN

    @property
    def latest(self) -> str:
        value = self.values[-1]
        return f"{value * 100:.0f}%" if self.percent else f"{value:.3g}"

    @property
    def label(self) -> str:
        runs = len(self.values)
        measure = "true rate" if self.percent else "mean"
        return (
            f"{self.series.name} · {self.series.field} ({measure}) over the last {runs} "
            f"run{'s' if runs != 1 else ''}, latest {self.latest}"
        )

    @property
    def svg(self) -> SafeString:
        return sparkline(self.values, label=self.label, percent=self.percent)


@dataclass(frozen=True)
class ConfigTrend:
    config: Config
    sparks: list[Spark]  # at most SPARKS_PER_CONFIG
    more: int  # fields left out


@dataclass(frozen=True)
class TrendsPanel:
    listed: list[ConfigTrend]  # the configs that ran last first, at most TREND_CONFIGS
    unlisted: int  # auto-running configs left out of `listed`


def auto_run_trends(team: Team) -> TrendsPanel:
    """Auto-running configs' fields over their runs among the last SPARK_RUNS, in two queries.

    At most TREND_CONFIGS configs, those that ran last first; the count of the rest comes
    with them (a window over the same query).
    """
    # The latest runs of each config are read from the (config, id) index alone: a filter
    # on their status here would need each run's row, and lead the planner to walk every
    # run of the team backwards by id to find a config's that seldom runs.
    latest = Run.objects.filter(config=OuterRef("pk")).order_by("-id").values("id")
    configs = list(
        Config.objects.for_team(team)
        .filter(auto_run_on_append=True)
        .annotate(
            first_run=Subquery(latest[SPARK_RUNS - 1 : SPARK_RUNS]),
            last_run=Subquery(latest[:1]),
            total=Window(Count("*")),
        )
        .order_by(F("last_run").desc(nulls_last=True), "id")[:TREND_CONFIGS]
    )
    if not configs:
        return TrendsPanel([], 0)
    window = Q()
    for config in configs:
        window |= Q(config_id=config.pk, id__gte=config.first_run or 0)
    aggregates = (
        Aggregate.objects.filter(run__in=Run.objects.filter(window).values("id"))
        .filter(run__status=RunStatus.COMPLETED, run__type__in=[RunType.FULL, RunType.DELTA])
        .filter(field_type__in=[FieldType.NUMBER, FieldType.BOOLEAN])
        .select_related("run", "version")
        .only(*TREND_FIELDS)  # not the versions' params and schemas, parsed for every point
        .order_by("run__finished_at", "run_id", "id")
    )
    by_config: dict[int, list[Aggregate]] = {config.pk: [] for config in configs}
    for aggregate in aggregates:
        by_config[aggregate.run.config_id].append(aggregate)
    listed = [_config_trend(config, trends.collect(by_config[config.pk])) for config in configs]
    return TrendsPanel(listed, configs[0].total - len(configs))


def _config_trend(config: Config, found: list[trends.Series]) -> ConfigTrend:
    # A later version of an evaluator replaces the line of the earlier one's field.
    newest: dict[tuple[str, str], Spark] = {}
    for series in found:
        values = [point.value for point in series.points if point.value is not None]
        if values:
            newest[(series.name, series.field)] = Spark(series, values)
    sparks = list(newest.values())
    return ConfigTrend(config, sparks[:SPARKS_PER_CONFIG], max(0, len(sparks) - SPARKS_PER_CONFIG))


# Getting started


@dataclass(frozen=True)
class Step:
    key: str  # the name of the fact that says it is done
    title: str
    action: Action  # who may do it
    url_name: str  # where it is done
    hint: str  # how


STEPS = (
    Step(
        "api_key",
        "Create an API key",
        Action.MANAGE_API_KEYS,
        "settings-api-keys",
        "Your chatbot sends its traffic with it.",
    ),
    Step(
        "traffic",
        "Send traffic from a chatbot",
        Action.EDIT,
        "chat:chatbot-list",
        "Create a chatbot, then post its conversations to POST /api/v1/traffic with an API "
        "key, or import a log file.",
    ),
    Step(
        "rows",
        "Put rows in a dataset",
        Action.EDIT,
        "datasets:dataset-list",
        "Create a dataset, then add conversations from traffic, by hand or from a CSV file.",
    ),
    Step(
        "rule",
        "Add an auto-population rule",
        Action.EDIT,
        "datasets:dataset-list",
        "A rule appends fresh traffic of a chatbot to a dataset as it arrives.",
    ),
    Step(
        "run",
        "Complete a run",
        Action.EDIT,
        "runs:config-list",
        "Create a config (a dataset and the evaluators that score it) and press Run.",
    ),
)


@dataclass(frozen=True)
class Task:
    step: Step
    done: bool
    url: str


def facts(team: Team) -> Mapping[str, object]:
    """What the team has set up (a yes or no per step) and its latest dataset, in two queries.

    Each "exists?" names the team (or its datasets) by value rather than as an outer
    reference: with the values in hand, the planner finds from the statistics that a new
    team has nothing and looks it up by index, instead of scanning other teams' rows.
    """
    datasets = list(Dataset.objects.for_team(team).order_by("-id").values_list("id", flat=True))
    found = (
        Team.objects.filter(pk=team.pk)
        .annotate(
            api_key=Exists(ApiKey.objects.for_team(team).active()),
            traffic=Exists(Session.objects.for_team(team)),
            rows=Exists(Row.objects.filter(dataset_id__in=datasets)),
            rule=Exists(Rule.objects.filter(dataset_id__in=datasets)),
            run=Exists(Run.objects.for_team(team).filter(status=RunStatus.COMPLETED)),
        )
        .values("api_key", "traffic", "rows", "rule", "run")
        .get()
    )
    return found | {"latest_dataset": datasets[0] if datasets else None}


def checklist(team: Team, role: str, *, auto_populate: bool) -> list[Task]:
    """The set-up steps `role` may do, each done or not; none once every one is done."""
    steps = [
        step for step in STEPS if can(role, step.action) and (auto_populate or step.key != "rule")
    ]
    if not steps:
        return []
    known = facts(team)
    tasks = [Task(step, bool(known[step.key]), _url(step, known)) for step in steps]
    return [] if all(task.done for task in tasks) else tasks


def _url(step: Step, known: Mapping[str, object]) -> str:
    dataset = known["latest_dataset"]
    if step.key == "rule" and dataset is not None:
        return reverse("autopopulate:rule-create", args=[dataset])
    return reverse(step.url_name)
