from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from evalloop.notifications.models import Kind, Notification
from evalloop.runs import batches, coordinator, services
from evalloop.runs.models import Batch, BatchStatus, Result, Run, RunStatus
from evalloop.runs.tests.factories import add_rows, finish, make_config, make_evaluator, start


@pytest.fixture
def config(cast, dataset):
    add_rows(dataset, "a", "bb", "ccc", "dddd", "eeeee")
    return make_config(
        dataset, make_evaluator(cast.team, "length"), make_evaluator(cast.team, "picky")
    )


def run_sent(sent):
    """Do the work of every batch dispatched so far, as workers would."""
    while sent:
        batches.run_batch(batch_id=sent.pop(0))


def expire_leases(run, *, progress_too=False):
    past = timezone.now() - timedelta(hours=1)
    Batch.objects.filter(run=run, status=BatchStatus.RUNNING).update(lease_expires_at=past)
    if progress_too:
        Run.objects.filter(pk=run.pk).update(last_progress_at=past - timedelta(hours=1))


def test_a_run_completes_across_several_ticks(config, sent):
    run = start(config)
    assert (run.scope_size, run.total, run.batches.count()) == (5, 10, 3)

    coordinator.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert len(sent) == 2  # the bound per run
    coordinator.tick()
    assert len(sent) == 2  # nothing more while two are in flight

    run_sent(sent)
    coordinator.tick()
    assert len(sent) == 1
    run_sent(sent)
    run.refresh_from_db()
    assert (run.status, run.done, run.errors) == (RunStatus.RUNNING, 10, 0)

    coordinator.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.finished_at is not None
    assert run.input_tokens == 10  # the length kind spends 2 per row
    assert Result.objects.filter(run=run).count() == 10


def test_a_full_run_tells_the_team_when_it_completes(config, sent, cast):
    run = start(config)
    for _ in range(4):
        coordinator.tick()
        run_sent(sent)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert Notification.objects.filter(recipient=cast.editor, kind=Kind.INFO).exists()
    assert not Notification.objects.filter(recipient=cast.viewer).exists()


def test_the_completion_notice_counts_in_words(cast, dataset, sent):
    add_rows(dataset, "a")
    run = finish(start(make_config(dataset, make_evaluator(cast.team, "length"))), sent)
    assert run.status == RunStatus.COMPLETED
    notice = Notification.objects.get(recipient=cast.editor, kind=Kind.INFO)
    assert notice.title.endswith(" completed: 1 result, 0 errors.")


def test_a_run_started_on_commit_runs_to_the_end_with_its_aggregates(
    config, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = start(config)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.done == 10
    assert run.finalized_at is not None
    assert run.aggregates.count() == 2


def test_a_run_created_in_a_transaction_that_rolls_back_never_runs(
    config, sent, django_capture_on_commit_callbacks
):
    def start_then_fail():
        with transaction.atomic():
            start(config)
            raise RuntimeError("the caller changed its mind")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        start_then_fail()
    assert callbacks == []
    assert not Run.objects.exists()
    coordinator.tick()
    assert sent == []


def test_a_batch_killed_half_way_is_dispatched_again_and_completes_without_duplicates(
    config, sent, monkeypatch
):
    monkeypatch.setattr(batches, "FLUSH_SECONDS", 0)  # as slow evaluators: write each version
    run = start(config)
    coordinator.tick()
    first = sent.pop(0)
    real = batches.evaluate
    calls = []

    class Killed(BaseException):
        pass

    def dies_on_the_second_version(version, rows):
        calls.append(version)
        if len(calls) == 2:
            raise Killed
        return real(version, rows)

    monkeypatch.setattr(batches, "evaluate", dies_on_the_second_version)
    with pytest.raises(Killed):
        batches.run_batch(batch_id=first)
    monkeypatch.setattr(batches, "evaluate", real)
    assert Result.objects.filter(run=run).count() == 2  # the first version's pairs

    coordinator.tick()
    assert first not in sent  # its lease runs still
    expire_leases(run)
    coordinator.tick()
    assert first in sent
    assert Batch.objects.get(pk=first).attempts == 2
    for _ in range(4):
        run_sent(sent)
        coordinator.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.done == run.total == Result.objects.filter(run=run).count() == 10


def test_quick_evaluators_write_a_batch_in_one_transaction(config, sent, monkeypatch):
    run = start(config)
    coordinator.tick()
    writes = []
    real = batches._write

    def counted(*args):
        writes.append(args)
        return real(*args)

    monkeypatch.setattr(batches, "_write", counted)
    batches.run_batch(batch_id=sent.pop(0))
    assert len(writes) == 1
    assert Result.objects.filter(run=run).count() == 4  # two rows x two versions


def test_a_batch_delivered_twice_counts_its_results_once(config, sent):
    run = start(config)
    coordinator.tick()
    batch_id = sent[0]
    batches.run_batch(batch_id=batch_id)
    Batch.objects.filter(pk=batch_id).update(status=BatchStatus.RUNNING)
    batches.run_batch(batch_id=batch_id)
    run.refresh_from_db()
    assert run.done == Result.objects.filter(run=run).count() == 4


def test_a_stalled_run_fails_after_the_stall_limit_with_the_reason(config, sent, cast):
    run = start(config)
    coordinator.tick()
    for stall in (1, 2):
        expire_leases(run, progress_too=True)
        coordinator.tick()
        run.refresh_from_db()
        assert (run.status, run.stalls) == (RunStatus.RUNNING, stall)
    expire_leases(run, progress_too=True)
    coordinator.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "No progress" in run.error
    assert run.finished_at is not None
    assert Notification.objects.filter(recipient=cast.editor, kind=Kind.RUN_FAILED).exists()


def test_progress_clears_the_stalls(config, sent):
    run = start(config)
    coordinator.tick()
    expire_leases(run, progress_too=True)
    coordinator.tick()
    run_sent(sent)
    run.refresh_from_db()
    assert run.stalls == 0


def test_a_batch_that_keeps_losing_its_lease_fails_the_run_though_others_progress(config, sent):
    run = start(config)
    coordinator.tick()
    stuck = sent.pop(0)
    for _ in range(3):
        run_sent(sent)  # the others progress
        expire_leases(run)
        Run.objects.filter(pk=run.pk).update(last_progress_at=timezone.now())
        coordinator.tick()
        if stuck in sent:
            sent.remove(stuck)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "dispatched 3 times" in run.error


def test_re_running_the_failures_of_a_run_failed_by_a_lost_batch_finishes_it(
    cast, dataset, sent, fake_kinds
):
    add_rows(dataset, "a", "b", "bad one", "c", "d")
    run = start(make_config(dataset, make_evaluator(cast.team, "picky")))
    coordinator.tick()
    stuck = sent.pop(0)  # rows a and b: its worker keeps dying
    for _ in range(3):
        run_sent(sent)
        expire_leases(run)
        Run.objects.filter(pk=run.pk).update(last_progress_at=timezone.now())
        coordinator.tick()
        if stuck in sent:
            sent.remove(stuck)
    run.refresh_from_db()
    assert (run.status, run.done, run.errors) == (RunStatus.FAILED, 3, 1)

    services.rerun_failed(run=run)
    run = finish(run, sent)
    assert (run.status, run.done, run.errors) == (RunStatus.COMPLETED, 5, 1)
    assert Result.objects.filter(run=run).count() == 5


def test_a_run_ignores_rows_appended_after_it_was_created(config, dataset, sent):
    run = start(config)
    late = add_rows(dataset, "late")[0]
    for _ in range(4):
        coordinator.tick()
        run_sent(sent)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert not Result.objects.filter(row_id=late).exists()
    assert run.done == 10


def test_a_cancelled_run_stops_and_its_dispatched_batches_write_nothing(config, sent):
    run = start(config)
    coordinator.tick()
    services.cancel_run(run=run)
    run_sent(sent)
    coordinator.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert sent == []
    assert not Result.objects.filter(run=run).exists()
    # Its batches wait again, holding no lease, so nothing looks dispatched any more.
    assert not run.batches.filter(status=BatchStatus.RUNNING).exists()


def test_a_kind_that_raises_makes_error_results_and_the_run_completes(cast, dataset, sent):
    add_rows(dataset, "a", "b", "c")
    config = make_config(dataset, make_evaluator(cast.team, "boom"))
    run = start(config)
    for _ in range(3):
        coordinator.tick()
        run_sent(sent)
    run.refresh_from_db()
    assert (run.status, run.done, run.errors) == (RunStatus.COMPLETED, 3, 3)
    assert "RuntimeError: the kind broke" in Result.objects.filter(run=run).first().error


def test_one_failing_run_does_not_stop_another(config, sent, monkeypatch):
    broken, healthy = start(config), start(config)
    real = coordinator._claim

    def claim(run, now):
        if run.pk == broken.pk:
            raise RuntimeError("a bad day")
        return real(run, now)

    monkeypatch.setattr(coordinator, "_claim", claim)
    coordinator.tick()
    broken.refresh_from_db()
    assert broken.status == RunStatus.PENDING
    assert (broken.stalls, broken.error) == (
        1,
        "The coordinator met an error: RuntimeError: a bad day",
    )
    assert {Batch.objects.get(pk=pk).run_id for pk in sent} == {healthy.pk}
    for _ in range(2):
        coordinator.tick()
    broken.refresh_from_db()
    assert broken.status == RunStatus.FAILED


def test_the_bound_in_flight_holds_across_runs(config, sent, settings):
    settings.EVALLOOP_RUN_BATCHES_IN_FLIGHT = 3
    start(config)
    start(config)
    coordinator.tick()
    assert len(sent) == 3


def test_the_sweep_finalizes_a_finished_run_without_aggregates(config, sent):
    run = start(config)
    for _ in range(4):
        coordinator.tick()
        run_sent(sent)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.finalized_at is None  # its task went on commit, which never came here
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(minutes=5))
    coordinator.tick()
    run.refresh_from_db()
    assert run.finalized_at is not None
    assert run.aggregates.count() == 2


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent coordinators")
@pytest.mark.django_db(transaction=True)
def test_two_coordinators_never_dispatch_the_same_batch_twice(cast, dataset, monkeypatch, settings):
    settings.EVALLOOP_RUN_BATCHES_IN_FLIGHT = 100
    add_rows(dataset, *[f"row {i}" for i in range(40)])
    config = make_config(dataset, make_evaluator(cast.team, "length"))
    monkeypatch.setattr(services, "_kick_on_commit", lambda run: None)
    runs = [start(config) for _ in range(6)]
    dispatched: list[int] = []
    lock = threading.Lock()

    def record(batch_ids):
        with lock:
            dispatched.extend(batch_ids)

    monkeypatch.setattr(coordinator, "dispatch", record)
    barrier = threading.Barrier(2)

    def coordinate():
        try:
            barrier.wait()
            for _ in range(5):
                coordinator.tick()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=coordinate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(dispatched) == len(set(dispatched)) == 6 * 2  # two per run, each once
    claimed = Batch.objects.filter(run__in=runs, status=BatchStatus.RUNNING)
    assert sorted(claimed.values_list("pk", flat=True)) == sorted(dispatched)
    assert set(claimed.values_list("attempts", flat=True)) == {1}
