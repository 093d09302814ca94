"""Two ticks at once on PostgreSQL: each source goes in once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from evalloop.autopopulate import tick
from evalloop.autopopulate.models import Entry
from evalloop.autopopulate.tests.traffic import later, session


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
