"""The tick: complete matching sources go in once, with their delta runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from evalloop.autopopulate import outcome, services, tick
from evalloop.autopopulate.models import Completion, Entry, Rule, Status, Tick
from evalloop.autopopulate.tests.traffic import end, later, session, tag
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets.models import Mode, Origin, Row
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.notifications.models import Notification
from evalloop.teams import flags
from evalloop.teams import services as teams

pytestmark = pytest.mark.django_db(transaction=False)

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]


def rows_of(dataset):
    return list(dataset.rows.order_by("id"))


def test_new_matching_traffic_is_added_once_with_its_rule(make_rule, chatbot, dataset):
    rule = make_rule()
    first, second = session(chatbot), session(chatbot)
    [summary] = tick.tick(now=later())
    assert summary.status == Status.SUCCESS
    assert summary.counts.appended == 2
    rows = rows_of(dataset)
    assert {row.source_session_id for row in rows} == {first.pk, second.pk}
    assert {row.rule_id for row in rows} == {rule.pk}
    assert {row.origin for row in rows} == {Origin.RULE}
    [again] = tick.tick(now=later())
    assert again.status == Status.NO_OP
    assert len(rows_of(dataset)) == 2


def test_no_match_is_a_no_op(make_rule, chatbot, dataset):
    rule = make_rule(filter=VIP)
    session(chatbot)
    [summary] = tick.tick(now=later())
    assert summary.status == Status.NO_OP
    assert summary.counts.scanned == 1
    assert summary.counts.matched == 0
    rule.refresh_from_db()
    assert rule.last_status == Status.NO_OP
    assert rows_of(dataset) == []
    assert Tick.objects.filter(rule=rule, status=Status.NO_OP).count() == 1


def test_nothing_created_before_start_at_is_taken(make_rule, chatbot, dataset):
    session(chatbot)
    make_rule(start_at=timezone.now())
    fresh = session(chatbot)
    tick.tick(now=later())
    assert [row.source_session_id for row in rows_of(dataset)] == [fresh.pk]


def test_an_open_session_waits_until_it_ends(make_rule, chatbot, dataset):
    make_rule()
    open_one = session(chatbot, ended=False)
    tick.tick(now=later())
    assert rows_of(dataset) == []
    end(open_one)
    tick.tick(now=later())
    assert [row.source_session_id for row in rows_of(dataset)] == [open_one.pk]


def test_an_idle_session_is_taken_when_its_quiet_period_ends(make_rule, chatbot, dataset):
    make_rule(completion=Completion.IDLE, idle_minutes=30)
    quiet = session(chatbot, ended=False)
    tick.tick(now=later(minutes=29))
    assert rows_of(dataset) == []
    tick.tick(now=later(minutes=31))
    assert [row.source_session_id for row in rows_of(dataset)] == [quiet.pk]


def test_an_idle_watermark_stops_at_the_cut_off(make_rule, chatbot):
    rule = make_rule(completion=Completion.IDLE, idle_minutes=30)
    now = later(minutes=5)
    tick.tick(now=now)
    rule.refresh_from_db()
    assert rule.watermark == now - timedelta(minutes=30)


def test_immediate_takes_an_open_session(make_rule, chatbot, dataset):
    make_rule(completion=Completion.IMMEDIATE)
    live = session(chatbot, ended=False)
    tick.tick(now=later())
    assert [row.source_session_id for row in rows_of(dataset)] == [live.pk]


def test_a_tag_added_later_to_an_old_session_makes_it_match(make_rule, chatbot, dataset):
    make_rule(filter=VIP)
    old = session(chatbot)
    tick.tick(now=later())
    assert rows_of(dataset) == []
    tag(old, "vip")
    tick.tick(now=later())
    assert [row.source_session_id for row in rows_of(dataset)] == [old.pk]


def test_a_deleted_row_is_not_added_again(make_rule, chatbot, dataset):
    rule = make_rule()
    source = session(chatbot)
    tick.tick(now=later())
    dataset.rows.all().delete()
    assert Entry.objects.get(rule=rule).row_id is None
    tag(source, "touched")  # its clock moves: it is a candidate again
    [summary] = tick.tick(now=later())
    assert summary.counts.in_ledger == 1
    assert rows_of(dataset) == []


def test_sampling_decides_the_same_way_on_a_rescan(make_rule, chatbot, dataset, settings):
    settings.EVALLOOP_TICK_SAFETY_MARGIN_SECONDS = 3600
    rule = make_rule(sample_rate=0.5)
    sessions = [session(chatbot) for _ in range(20)]
    [first] = tick.tick(now=later())
    taken = {row.source_session_id for row in rows_of(dataset)}
    assert 0 < len(taken) < 20
    assert taken == {s.pk for s in sessions if tick.sampled_in(rule, (s.pk, 0))}
    [rescan] = tick.tick(now=later())  # the margin covers every session again
    assert rescan.counts.sampled_out == first.counts.sampled_out
    assert rescan.counts.appended == 0
    assert {row.source_session_id for row in rows_of(dataset)} == taken


def test_message_mode_takes_each_reply_once(cast, chatbot, make_rule):
    messages = DatasetFactory(team=cast.team, name="Turns", mode=Mode.MESSAGE)
    make_rule(dataset=messages, completion=Completion.IMMEDIATE)
    live = session(chatbot, ended=False)
    tick.tick(now=later())
    from evalloop.chat.tests.factories import conversation

    conversation(live, ("human", "again"), ("ai", "sure"), start=timezone.now())
    tick.tick(now=later())
    rows = rows_of(messages)
    assert [row.output for row in rows] == ["hello", "sure"]
    assert Entry.objects.filter(rule__dataset=messages).count() == 2


def test_a_crash_before_the_status_does_not_duplicate(make_rule, chatbot, dataset, monkeypatch):
    rule = make_rule()
    session(chatbot)

    def crash(summary, *, now):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(tick, "record_success", crash)
    with pytest.raises(RuntimeError):
        tick.tick_rule(rule_id=rule.pk, now=later())
    monkeypatch.undo()
    tick.tick(now=later())
    assert len(rows_of(dataset)) == 1


def _break(monkeypatch, rule_id):
    real = tick.rule_filter

    def failing(rule):
        if rule.pk == rule_id:
            raise RuntimeError("filter store unreadable")
        return real(rule)

    monkeypatch.setattr(tick, "rule_filter", failing)


def test_three_failures_disable_the_rule_and_tell_the_editors(
    make_rule, chatbot, cast, monkeypatch
):
    rule = make_rule()
    session(chatbot)
    _break(monkeypatch, rule.pk)
    for _ in range(outcome.FAILURES_BEFORE_DISABLING):
        [summary] = tick.tick(now=later())
        assert summary.status == Status.ERROR
    rule.refresh_from_db()
    assert not rule.enabled
    assert rule.last_status == Status.ERROR
    assert "filter store unreadable" in rule.last_error
    told = Notification.objects.filter(team=cast.team, kind="rule_disabled")
    assert set(told.values_list("recipient__email", flat=True)) >= {cast.editor.email}
    assert cast.viewer.email not in set(told.values_list("recipient__email", flat=True))
    assert told.first().url == f"/datasets/{rule.dataset_id}/"
    assert tick.tick(now=later()) == []
    services.set_enabled(rule=rule, enabled=True)
    rule.refresh_from_db()
    assert rule.enabled
    assert rule.consecutive_failures == 0


def test_one_failing_rule_does_not_block_the_others(cast, make_rule, chatbot, monkeypatch):
    other = DatasetFactory(team=cast.team, name="Other", mode=Mode.SESSION)
    broken = make_rule()
    working = make_rule(dataset=other)
    session(chatbot)
    _break(monkeypatch, broken.pk)
    summaries = {s.rule_id: s.status for s in tick.tick(now=later())}
    assert summaries == {broken.pk: Status.ERROR, working.pk: Status.SUCCESS}
    assert other.rows.count() == 1


def test_the_flag_off_skips_the_team(make_rule, chatbot, dataset, cast):
    make_rule()
    session(chatbot)
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    assert tick.tick(now=later()) == []
    assert rows_of(dataset) == []


def test_the_per_tick_cap_leaves_the_rest_for_the_next_tick(make_rule, chatbot, dataset, settings):
    settings.EVALLOOP_TICK_MAX_SOURCES = 3
    settings.EVALLOOP_TICK_SAFETY_MARGIN_SECONDS = 0
    make_rule()
    sessions = [session(chatbot) for _ in range(7)]
    counts = [tick.tick(now=later())[0].counts.appended for _ in range(4)]
    assert counts == [3, 3, 1, 0]
    assert sorted(r.source_session_id for r in rows_of(dataset)) == [s.pk for s in sessions]


def test_ticks_pages_through_a_big_window(make_rule, chatbot, dataset, monkeypatch):
    monkeypatch.setattr(tick, "PAGE", 2)
    make_rule()
    for _ in range(5):
        session(chatbot)
    [summary] = tick.tick(now=later())
    assert summary.counts.appended == 5
    assert summary.counts.scanned == 5


def test_a_tick_keeps_the_last_hundred_records(make_rule, monkeypatch):
    monkeypatch.setattr(outcome, "TICKS_KEPT", 3)
    rule = make_rule()
    for _ in range(5):
        tick.tick(now=later())
    assert rule.ticks.count() == 3


def test_a_row_already_in_the_dataset_is_kept_once(make_rule, chatbot, dataset):
    make_rule()
    make_rule(filter=VIP)
    session(chatbot, tags=("vip",))
    tick.tick(now=later())
    assert len(rows_of(dataset)) == 1
    assert Entry.objects.count() == 2


def test_a_rule_of_another_chatbot_sees_none_of_this_traffic(cast, make_rule, dataset):
    other = ChatbotFactory(team=cast.team, slug="sales")
    make_rule()
    session(other)
    tick.tick(now=later())
    assert Row.objects.count() == 0


def test_an_edited_filter_rescans_the_window_without_duplicates(make_rule, chatbot, dataset):
    rule = make_rule(filter=VIP)
    plain, vip = session(chatbot), session(chatbot, tags=("vip",))
    tick.tick(now=later())
    services.update_rule(rule=rule, filter=[])
    tick.tick(now=later())
    assert sorted(r.source_session_id for r in rows_of(dataset)) == [plain.pk, vip.pk]


def test_rules_count_the_rows_they_contributed_in_one_query(
    make_rule, chatbot, dataset, django_assert_num_queries
):
    first, second = make_rule(), make_rule(filter=VIP)
    session(chatbot)
    tick.tick(now=later())
    with django_assert_num_queries(1):
        counted = {r.pk: r.rows_contributed for r in Rule.objects.with_rows_contributed()}
    assert counted == {first.pk: 1, second.pk: 0}


# The sweep


def _hide_behind_the_margin(source, rule):
    """A write that committed long after it stamped the clock: behind watermark less margin."""
    rule.refresh_from_db()
    source.changed_at = rule.watermark - timedelta(hours=1)
    source.save(update_fields=["changed_at"])


def test_the_sweep_adds_a_session_the_ticks_missed_once(make_rule, chatbot, dataset):
    rule = make_rule(start_at=timezone.now() - timedelta(days=2))
    tick.tick(now=later())
    missed = session(chatbot)
    _hide_behind_the_margin(missed, rule)
    [summary] = tick.tick(now=later())
    assert summary.counts.appended == 0
    watermark = Rule.objects.get(pk=rule.pk).watermark
    [swept] = tick.sweep(now=later())
    assert swept.sweep
    assert swept.counts.appended == 1
    assert [row.source_session_id for row in rows_of(dataset)] == [missed.pk]
    assert Rule.objects.get(pk=rule.pk).watermark == watermark
    [again] = tick.sweep(now=later())
    assert (again.status, again.counts.in_ledger) == (Status.NO_OP, 1)
    assert len(rows_of(dataset)) == 1
    assert list(rule.ticks.values_list("sweep", flat=True)) == [True, True, False, False]


def test_the_sweep_respects_the_ledger_and_the_filter(make_rule, chatbot, dataset):
    rule = make_rule(filter=VIP, start_at=timezone.now() - timedelta(days=2))
    taken, plain = session(chatbot, tags=("vip",)), session(chatbot)
    tick.tick(now=later())
    dataset.rows.all().delete()
    for source in (taken, plain):
        _hide_behind_the_margin(source, rule)
    [swept] = tick.sweep(now=later())
    assert (swept.counts.scanned, swept.counts.in_ledger, swept.counts.appended) == (2, 1, 0)
    assert rows_of(dataset) == []


def test_the_sweep_reads_only_its_lookback(make_rule, chatbot, dataset, settings):
    settings.EVALLOOP_SWEEP_LOOKBACK_DAYS = 1
    rule = make_rule(start_at=timezone.now() - timedelta(days=5))
    old = session(chatbot)
    tick.tick(now=later())
    dataset.rows.all().delete()
    rule.entries.all().delete()
    old.changed_at = timezone.now() - timedelta(days=2)
    old.save(update_fields=["changed_at"])
    [swept] = tick.sweep(now=later())
    assert swept.counts.scanned == 0
    assert rows_of(dataset) == []


def test_the_sweep_skips_the_team_with_the_flag_off(make_rule, chatbot, dataset, cast):
    rule = make_rule()
    tick.tick(now=later())
    _hide_behind_the_margin(session(chatbot), rule)
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    assert tick.sweep(now=later()) == []
    assert rows_of(dataset) == []


def test_the_command_sweeps_with_its_flag(make_rule, chatbot, dataset, monkeypatch):
    from click.testing import CliRunner

    from evalloop import cli

    rule = make_rule()
    tick.tick(now=later())
    _hide_behind_the_margin(session(chatbot), rule)
    monkeypatch.setattr(cli, "_prepare", lambda **options: None)
    assert "0 rows appended" in CliRunner().invoke(cli.main, ["tick"]).output
    swept = CliRunner().invoke(cli.main, ["tick", "--sweep"])
    assert swept.exit_code == 0
    assert "1 row appended" in swept.output
    assert len(rows_of(dataset)) == 1


def test_a_busy_database_is_not_a_failure_of_the_rule(make_rule, chatbot, dataset, monkeypatch):
    rule = make_rule()
    session(chatbot)
    real = tick.take_sources

    def busy(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(tick, "take_sources", busy)
    for _ in range(outcome.FAILURES_BEFORE_DISABLING + 1):
        assert tick.tick(now=later()) == []
    rule.refresh_from_db()
    assert rule.enabled
    assert rule.consecutive_failures == 0
    assert not Notification.objects.filter(kind="rule_disabled").exists()
    monkeypatch.setattr(tick, "take_sources", real)
    [summary] = tick.tick(now=later())
    assert summary.status == Status.SUCCESS
    assert len(rows_of(dataset)) == 1


def test_a_rule_deleted_during_its_tick_leaves_the_others_running(
    cast, make_rule, chatbot, monkeypatch
):
    other = DatasetFactory(team=cast.team, name="Other", mode=Mode.SESSION)
    doomed = make_rule()
    working = make_rule(dataset=other)
    session(chatbot)
    real = tick.take_sources

    def then_deleted(*, rule_id, **kwargs):
        taken = real(rule_id=rule_id, **kwargs)
        if rule_id == doomed.pk:
            services.delete_rule(rule=Rule.objects.get(pk=rule_id))
        return taken

    monkeypatch.setattr(tick, "take_sources", then_deleted)
    summaries = {s.rule_id: s.status for s in tick.tick(now=later())}
    assert summaries == {doomed.pk: Status.SUCCESS, working.pk: Status.SUCCESS}
    assert not Tick.objects.filter(rule_id=doomed.pk).exists()
    assert Tick.objects.filter(rule_id=working.pk).count() == 1
    assert other.rows.count() == 1


def test_an_error_recording_one_rule_does_not_stop_the_others(
    cast, make_rule, chatbot, monkeypatch
):
    other = DatasetFactory(team=cast.team, name="Other", mode=Mode.SESSION)
    first = make_rule()
    second = make_rule(dataset=other)
    session(chatbot)
    real = tick.record_success

    def unlucky(summary, **kwargs):
        if summary.rule_id == first.pk:
            raise RuntimeError("status store unreachable")
        return real(summary, **kwargs)

    monkeypatch.setattr(tick, "record_success", unlucky)
    summaries = tick.tick(now=later())
    assert [s.rule_id for s in summaries] == [second.pk]
    assert other.rows.count() == 1


def test_an_edit_between_two_pages_of_a_tick_loses_nothing(
    make_rule, chatbot, dataset, monkeypatch
):
    monkeypatch.setattr(tick, "PAGE", 2)
    rule = make_rule(filter=[{"field": "tags", "op": "any_of", "value": ["nobody"]}])
    vips = [session(chatbot, tags=("vip",)) for _ in range(8)]
    real, pages = tick._page, []

    def then_edited(*args, **kwargs):
        answer = real(*args, **kwargs)
        pages.append(answer)
        if len(pages) == 2:  # between the tick's second and third page
            services.update_rule(rule=Rule.objects.get(pk=rule.pk), filter=VIP)
        return answer

    monkeypatch.setattr(tick, "_page", then_edited)
    tick.tick(now=later())
    assert len(pages) == 2  # the edit stopped the tick: it rescans from the start
    tick.tick(now=later())
    assert sorted(r.source_session_id for r in rows_of(dataset)) == sorted(s.pk for s in vips)
