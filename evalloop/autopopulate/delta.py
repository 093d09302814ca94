"""Delta runs for appended rows: one per auto-running config, within its limits.

Called in the transaction that appended the rows, so a run exists exactly when its rows do.
A config's minimum interval makes rows wait (as PendingRow) and join its next delta run;
its daily cap leaves rows past the cap unevaluated, counted per day in CappedDay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from evalloop.autopopulate.models import CappedDay, PendingRow
from evalloop.runs import services as runs
from evalloop.runs.models import Config, Run, RunType, Trigger

logger = logging.getLogger(__name__)

ONE_DAY = timedelta(days=1)


def rows_appended(*, dataset_id: int, row_ids: Sequence[int], label: str, now: datetime) -> None:
    """Start (or queue) a delta run of `row_ids` for every auto-running config of the dataset."""
    if not row_ids:
        return
    configs = Config.objects.filter(dataset_id=dataset_id, auto_run_on_append=True)
    # With its dataset (locked already by the caller), which the run's plan reads.
    configs = configs.select_related("dataset").select_for_update(of=("self",))
    for config in configs.order_by("id"):
        if waiting(config, now):
            _queue(config, row_ids, now)
        else:
            queued = pending_ids(config)
            _deliver(config, [*queued, *row_ids], label, now, queued=bool(queued))


def flush_due(*, now: datetime | None = None, team_ids: set[int] | None = None) -> int:
    """Start the delta runs whose minimum interval has passed; answer how many started.

    `team_ids`: only the configs of these teams (those with auto-population on); rows of
    the others keep waiting, and join a run once the team turns it on again.
    """
    now = now or timezone.now()
    started = 0
    pending = PendingRow.objects.all()
    if team_ids is not None:
        pending = pending.filter(config__team_id__in=sorted(team_ids))
    config_ids = pending.values_list("config_id", flat=True).distinct()
    for config_id in sorted(set(config_ids)):
        with transaction.atomic():
            started += _flush(config_id, now)
    return started


def _flush(config_id: int, now: datetime) -> int:
    config = Config.objects.select_for_update().filter(pk=config_id).first()
    if config is None or waiting(config, now):
        return 0
    if not config.auto_run_on_append:
        PendingRow.objects.filter(config=config).delete()
        return 0
    return _deliver(config, pending_ids(config), "rows waiting for the minimum interval", now)


def waiting(config: Config, now: datetime) -> bool:
    """Whether the config's last auto run is more recent than its minimum interval."""
    if not config.min_minutes_between_runs:
        return False
    last = _auto_runs(config).order_by("-created_at").values_list("created_at", flat=True)
    latest = last.first()
    return latest is not None and now - latest < timedelta(minutes=config.min_minutes_between_runs)


def pending_ids(config: Config) -> list[int]:
    waiting_rows = PendingRow.objects.filter(config=config).order_by("row_id")
    return list(waiting_rows.values_list("row_id", flat=True))


def _queue(config: Config, row_ids: Sequence[int], now: datetime) -> None:
    PendingRow.objects.bulk_create(
        [PendingRow(config=config, row_id=row_id, created_at=now) for row_id in row_ids],
        ignore_conflicts=True,
    )


def _deliver(
    config: Config, row_ids: list[int], label: str, now: datetime, *, queued: bool = True
) -> int:
    if queued:
        PendingRow.objects.filter(config=config).delete()
    row_ids = _within_cap(config, list(dict.fromkeys(row_ids)), now)
    if not row_ids:
        return 0
    try:
        with transaction.atomic():  # a broken config must not undo the rows appended
            runs.start_run(
                config=config,
                type=RunType.DELTA,
                trigger=Trigger.RULE,
                trigger_label=label,
                row_ids=row_ids,
            )
    except ValidationError as exc:
        logger.warning("No delta run for config %s: %s", config.pk, "; ".join(exc.messages))
        return 0
    return 1


def _within_cap(config: Config, row_ids: list[int], now: datetime) -> list[int]:
    cap = config.daily_row_cap
    if cap is None:
        return row_ids
    day = now.astimezone(UTC).date()
    # The UTC day as a range: `created_at__date` would take the day in the current time zone.
    start = datetime.combine(day, time.min, tzinfo=UTC)
    today = _auto_runs(config).filter(created_at__gte=start, created_at__lt=start + ONE_DAY)
    used = today.aggregate(n=Sum("scope_size"))["n"]
    room = max(0, cap - (used or 0))
    if len(row_ids) > room:
        _count_capped(config, day, len(row_ids) - room, cap, now)
    return row_ids[:room]


def _count_capped(config: Config, day: date, rows: int, cap: int, now: datetime) -> None:
    capped, _ = CappedDay.objects.get_or_create(config=config, day=day, defaults={"cap": cap})
    CappedDay.objects.filter(pk=capped.pk).update(rows=F("rows") + rows, cap=cap, updated_at=now)


def _auto_runs(config: Config) -> QuerySet[Run]:
    return Run.objects.filter(config=config, type=RunType.DELTA, trigger=Trigger.RULE)
