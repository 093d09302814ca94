"""Ticks beside other writers on PostgreSQL: each source goes in once, and deleting a rule
or its dataset during a tick neither fails nor deadlocks."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from evalloop.autopopulate import services, tick
from evalloop.autopopulate.models import Entry, Rule
from evalloop.autopopulate.tests.traffic import later, session
from evalloop.datasets.models import Dataset
from evalloop.datasets.services import delete_dataset


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ticks_add_each_source_once(make_rule, chatbot, dataset, monkeypatch):
    monkeypatch.setattr(tick, "PAGE", 3)
    rule = make_rule()
    sessions = [session(chatbot) for _ in range(20)]
    now = later()
    start = threading.Barrier(2)
    summaries = []

    def run() -> None:
        start.wait()
        try:
            summaries.append(tick.tick_rule(rule_id=rule.pk, now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = list(dataset.rows.values_list("source_session_id", flat=True))
    assert sorted(rows) == sorted(s.pk for s in sessions)
    assert Entry.objects.filter(rule=rule).count() == 20
    appended = sum(s.counts.appended for s in summaries if s is not None)
    assert appended == 20
    assert all(s is None or s.error == "" for s in summaries)


def _slowed(monkeypatch, name: str, seconds: float = 1.0) -> threading.Event:
    """Make the tick pause in `name` (inside its page's transaction); set when it starts."""
    real = getattr(tick, name)
    reached = threading.Event()

    def slow(*args, **kwargs):
        reached.set()
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(tick, name, slow)
    return reached


def _tick_in_thread(rule_id: int, now) -> tuple[threading.Thread, list]:
    summaries: list = []

    def run() -> None:
        try:
            summaries.append(tick.tick_rule(rule_id=rule_id, now=now))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, summaries


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pause_in", ["_insert_rows", "_matching"])
def test_deleting_a_rule_during_its_tick_waits_or_wins(
    make_rule, chatbot, dataset, monkeypatch, pause_in
):
    # _insert_rows: the tick holds the dataset, the delete waits for its page and takes its
    # rows' links along; _matching: the delete holds the dataset first, the tick gives way.
    rule = make_rule()
    for _ in range(3):
        session(chatbot)
    reached = _slowed(monkeypatch, pause_in)
    thread, summaries = _tick_in_thread(rule.pk, later())
    assert reached.wait(10)
    services.delete_rule(rule=rule)
    thread.join(20)
    assert not Rule.objects.filter(pk=rule.pk).exists()
    assert not Entry.objects.filter(rule_id=rule.pk).exists()
    assert all(row.rule_id is None for row in dataset.rows.all())
    [summary] = summaries
    assert summary is None or summary.error == ""


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_deleting_the_dataset_during_a_tick_does_not_deadlock(
    make_rule, chatbot, dataset, monkeypatch
):
    rule = make_rule()
    session(chatbot)
    reached = _slowed(monkeypatch, "_matching")
    thread, summaries = _tick_in_thread(rule.pk, later())
    assert reached.wait(10)
    delete_dataset(dataset=Dataset.objects.get(pk=dataset.pk))
    thread.join(20)
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert summaries == [None]
