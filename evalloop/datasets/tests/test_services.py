from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone

from evalloop.chat.models import SessionTag
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory, TagFactory, conversation
from evalloop.datasets import jobs, services
from evalloop.datasets.models import Dataset, ImportJob, JobStatus, Mode, Origin, Row
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.filters import parse_filter
from evalloop.lib.errors import Conflict
from evalloop.notifications.models import Notification
from evalloop.teams.permissions import Role
from evalloop.teams.tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return TeamFactory()


@pytest.fixture
def chatbot(team):
    return ChatbotFactory(team=team)


def vip_filter():
    return parse_filter([{"field": "tags", "op": "any_of", "value": ["vip"]}], target="session")


def tagged_sessions(chatbot, count, tag="vip"):
    sessions = []
    for _ in range(count):
        session = SessionFactory(chatbot=chatbot)
        conversation(session, ("human", "hi"), ("ai", "hello"))
        SessionTag.objects.create(session=session, tag=TagFactory(team=chatbot.team, name=tag))
        sessions.append(session)
    return sessions


# Datasets


def test_a_dataset_name_is_unique_per_team(team):
    services.create_dataset(team=team, name="Golden", mode=Mode.MESSAGE)
    with pytest.raises(Conflict, match="already exists"):
        services.create_dataset(team=team, name="Golden", mode=Mode.SESSION)
    services.create_dataset(team=TeamFactory(), name="Golden", mode=Mode.SESSION)


def test_a_dataset_needs_a_known_mode_and_a_name(team):
    with pytest.raises(ValidationError) as caught:
        services.create_dataset(team=team, name="x", mode="turn")
    assert "mode" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.create_dataset(team=team, name="  ", mode=Mode.SESSION)


def test_renaming_onto_another_datasets_name_is_a_conflict(team):
    DatasetFactory(team=team, name="A")
    b = DatasetFactory(team=team, name="B")
    with pytest.raises(Conflict):
        services.update_dataset(dataset=b, name="A")
    services.update_dataset(dataset=b, name="B", description="kept name")
    b.refresh_from_db()
    assert (b.name, b.description) == ("B", "kept name")


def test_a_dataset_with_an_import_running_cannot_be_deleted(team):
    dataset = DatasetFactory(team=team)
    job = ImportJob.objects.create(dataset=dataset, status=JobStatus.RUNNING)
    with pytest.raises(Conflict):
        services.delete_dataset(dataset=dataset)
    job.status = JobStatus.DONE
    job.save()
    services.delete_dataset(dataset=dataset)
    assert not Row.objects.filter(dataset_id=dataset.pk).exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_a_dataset_deleted_while_a_row_is_added_goes_with_the_row(team):
    dataset = DatasetFactory(team=team)
    added, outcome = threading.Event(), {}

    def add():
        with transaction.atomic():
            services.add_row(dataset=dataset, values={"input": "q", "output": "a"})
            added.set()
            time.sleep(0.5)  # the delete is now waiting on this transaction
        connection.close()

    def delete():
        added.wait()
        try:
            services.delete_dataset(dataset=Dataset.objects.get(pk=dataset.pk))
        except Exception as exc:  # whatever it is, the assertion below shows it
            outcome["error"] = exc
        connection.close()

    threads = [threading.Thread(target=add), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcome == {}
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not Row.objects.filter(dataset_id=dataset.pk).exists()


# Rows by hand


def test_adding_a_row_by_hand_validates_its_content(team):
    dataset = DatasetFactory(team=team)
    row = services.add_row(dataset=dataset, values={"input": "q", "output": "a"})
    assert (row.origin, row.edited) == (Origin.MANUAL, False)
    with pytest.raises(ValidationError) as caught:
        services.add_row(dataset=dataset, values={"history": [{"role": "bot", "content": "x"}]})
    assert "history" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.add_row(dataset=dataset, values={"context": ["not", "an", "object"]})
    assert "context" in caught.value.message_dict
    assert dataset.rows.count() == 1


def test_editing_a_row_keeps_its_provenance_and_marks_it_edited(chatbot):
    session = SessionFactory(chatbot=chatbot)
    dataset = DatasetFactory(team=chatbot.team)
    row = RowFactory(dataset=dataset, origin=Origin.IMPORT, source_session=session)
    services.edit_row(row=row, changes={"expected_output": "ideal"})
    row.refresh_from_db()
    assert row.expected_output == "ideal"
    assert (row.origin, row.source_session_id, row.edited) == (Origin.IMPORT, session.pk, True)


def test_editing_refuses_unknown_fields_and_invalid_values(team):
    row = RowFactory(dataset=DatasetFactory(team=team), output="before")
    with pytest.raises(ValidationError):
        services.edit_row(row=row, changes={"origin": "rule"})
    with pytest.raises(ValidationError):
        services.edit_row(row=row, changes={"output": "after", "state": "nope"})
    row.refresh_from_db()
    assert (row.output, row.edited) == ("before", False)


# Imports


def test_picked_sessions_must_all_be_the_teams(chatbot):
    mine = SessionFactory(chatbot=chatbot)
    theirs = SessionFactory()
    with pytest.raises(ValidationError) as caught:
        services.select_sessions(team=chatbot.team, session_ids=[mine.pk, theirs.pk])
    assert str(theirs.pk) in str(caught.value)


def test_too_many_picked_sessions_are_refused(chatbot, monkeypatch):
    monkeypatch.setattr(services, "MAX_PICKED_SESSIONS", 2)
    ids = [s.pk for s in SessionFactory.create_batch(3, chatbot=chatbot)]
    with pytest.raises(ValidationError, match="At most 2"):
        services.select_sessions(team=chatbot.team, session_ids=ids)
    with pytest.raises(ValidationError, match="at least one"):
        services.select_sessions(team=chatbot.team, session_ids=[])


def test_importing_picked_sessions_adds_rows_and_reports_skips(chatbot):
    sessions = tagged_sessions(chatbot, 2)
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    selection = services.select_sessions(team=chatbot.team, session_ids=[sessions[0].pk])
    services.import_sessions(dataset=dataset, selection=selection)
    both = services.select_sessions(team=chatbot.team, session_ids=[s.pk for s in sessions])
    outcome = services.import_sessions(dataset=dataset, selection=both)
    assert outcome.job is None
    assert (outcome.tally.added, outcome.tally.skipped) == (1, 1)
    assert set(dataset.rows.values_list("origin", flat=True)) == {Origin.IMPORT}


def test_importing_by_filter_takes_only_the_matching_sessions_of_that_chatbot(chatbot):
    tagged_sessions(chatbot, 2)
    tagged_sessions(chatbot, 1, tag="other")
    tagged_sessions(ChatbotFactory(team=chatbot.team), 1)
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.MESSAGE)
    selection = services.select_matching(team=chatbot.team, chatbot=chatbot, filter=vip_filter())
    count = services.count_import(dataset=dataset, selection=selection)
    assert (count.sessions, count.sources, count.large) == (2, 2, False)
    outcome = services.import_sessions(dataset=dataset, selection=selection)
    assert outcome.tally.added == 2


def test_a_sample_rate_must_be_a_fraction(chatbot):
    with pytest.raises(ValidationError):
        services.select_matching(team=chatbot.team, chatbot=chatbot, filter=None, sample_rate=0)
    with pytest.raises(ValidationError):
        services.select_matching(team=chatbot.team, chatbot=chatbot, filter=None, sample_rate=1.5)


def test_a_sampled_import_adds_about_that_share(chatbot):
    tagged_sessions(chatbot, 40)
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    selection = services.select_matching(
        team=chatbot.team, chatbot=chatbot, filter=None, sample_rate=0.5
    )
    assert services.count_import(dataset=dataset, selection=selection).expected == 20
    tally = services.import_sessions(dataset=dataset, selection=selection).tally
    assert tally.added + tally.sampled_out == 40
    assert 5 < tally.added < 35


def test_another_teams_chatbot_cannot_be_selected(chatbot):
    with pytest.raises(ValidationError):
        services.select_matching(team=TeamFactory(), chatbot=chatbot, filter=None)


# Large imports


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(services, "LARGE_IMPORT_SOURCES", 2)


def test_a_large_import_into_a_dataset_deleted_meanwhile_is_a_404(chatbot, small_threshold):
    tagged_sessions(chatbot, 3)
    dataset = DatasetFactory(team=chatbot.team)
    selection = services.select_matching(team=chatbot.team, chatbot=chatbot, filter=vip_filter())
    Dataset.objects.filter(pk=dataset.pk).delete()
    with pytest.raises(Http404):
        services.import_sessions(dataset=dataset, selection=selection)
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("mode", [Mode.MESSAGE, Mode.SESSION])
def test_a_large_import_becomes_a_job_run_after_commit(
    chatbot, small_threshold, mode, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    editor = MembershipFactory(team=chatbot.team, role=Role.EDITOR).user
    tagged_sessions(chatbot, 3)
    dataset = DatasetFactory(team=chatbot.team, mode=mode)
    selection = services.select_matching(team=chatbot.team, chatbot=chatbot, filter=vip_filter())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcome = services.import_sessions(dataset=dataset, selection=selection)
    assert outcome.tally is None
    assert (outcome.job.status, outcome.job.total, dataset.rows.count()) == ("pending", 3, 0)
    assert len(callbacks) == 1
    callbacks[0]()  # the enqueue, eager here: the task runs the job
    job = ImportJob.objects.get(pk=outcome.job.pk)
    assert (job.status, job.processed, job.rows_added, job.percent) == ("done", 3, 3, 100)
    assert dataset.rows.count() == 3
    assert Notification.objects.filter(recipient=editor, kind="import_finished").exists()


def test_a_job_is_run_once_even_when_delivered_twice(chatbot):
    tagged_sessions(chatbot, 2)
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    job = ImportJob.objects.create(
        dataset=dataset, params={"chatbot_id": chatbot.pk, "filter": []}, total=2
    )
    assert jobs.run_import_job(job_id=job.pk) is not None
    assert jobs.run_import_job(job_id=job.pk) is None
    assert dataset.rows.count() == 2


def test_a_job_writes_in_short_transactions_and_counts_each_session_once(chatbot, monkeypatch):
    monkeypatch.setattr(jobs, "ROWS_PER_TRANSACTION", 2)
    tagged_sessions(chatbot, 2)
    session = SessionFactory(chatbot=chatbot)
    conversation(session, ("human", "a"), ("ai", "b"), ("human", "c"), ("ai", "d"), ("ai", "e"))
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.MESSAGE)
    job = ImportJob.objects.create(
        dataset=dataset, params={"chatbot_id": chatbot.pk, "filter": []}, total=3
    )
    pieces = []
    real = jobs._write_piece

    def counted(job, rows, keep, sessions):
        pieces.append((len(rows), sessions))
        return real(job, rows, keep, sessions)

    monkeypatch.setattr(jobs, "_write_piece", counted)
    jobs.run_import_job(job_id=job.pk)
    job.refresh_from_db()
    assert pieces == [(2, 0), (2, 0), (1, 3)]
    assert (job.status, job.processed, job.rows_added) == ("done", 3, 5)


def test_an_abandoned_running_job_can_be_claimed_again(chatbot):
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    stale = timezone.now() - timedelta(minutes=jobs.STALE_JOB_MINUTES + 1)
    job = ImportJob.objects.create(
        dataset=dataset, params={"session_ids": []}, status=JobStatus.RUNNING, updated_at=stale
    )
    assert jobs.claim_job(job_id=job.pk) is not None
    assert jobs.claim_job(job_id=job.pk) is None  # now fresh: its worker is alive


def test_a_failing_job_records_its_error(chatbot, monkeypatch):
    tagged_sessions(chatbot, 1)
    dataset = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    job = ImportJob.objects.create(
        dataset=dataset, params={"chatbot_id": chatbot.pk, "filter": []}, total=1
    )

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs, "add_new_rows", broken)
    with pytest.raises(RuntimeError):
        jobs.run_import_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "disk full" in job.error


# Copies


def test_copying_rows_skips_sources_the_target_holds_and_copies_hand_made_rows(chatbot):
    sessions = tagged_sessions(chatbot, 2)
    source = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    target = DatasetFactory(team=chatbot.team, mode=Mode.SESSION)
    for dataset, picked in [(source, sessions), (target, sessions[:1])]:
        selection = services.select_sessions(team=chatbot.team, session_ids=[s.pk for s in picked])
        services.import_sessions(dataset=dataset, selection=selection)
    RowFactory(dataset=source, input="by hand")
    tally = services.copy_rows(source=source, target=target)
    assert (tally.added, tally.skipped) == (2, 1)
    copied = target.rows.filter(origin=Origin.COPY)
    assert set(copied.values_list("source_session_id", flat=True)) == {sessions[1].pk, None}


def test_copying_all_after_copying_ticked_rows_skips_the_rows_copied_before(team):
    source = DatasetFactory(team=team, mode=Mode.MESSAGE)
    target = DatasetFactory(team=team, mode=Mode.MESSAGE)
    rows = [RowFactory(dataset=source, input=f"by hand {i}") for i in range(3)]
    first = services.copy_rows(source=source, target=target, row_ids=[rows[0].pk, rows[2].pk])
    assert (first.added, first.skipped) == (2, 0)
    again = services.copy_rows(source=source, target=target)
    assert (again.added, again.skipped) == (1, 2)
    copies = target.rows.order_by("copied_from_id")
    assert list(copies.values_list("copied_from_id", flat=True)) == [row.pk for row in rows]


def test_a_copy_of_a_copy_names_the_original_and_is_skipped_as_it(team):
    first, second, third = (DatasetFactory(team=team, mode=Mode.SESSION) for _ in range(3))
    original = RowFactory(dataset=first, input="by hand")
    services.copy_rows(source=first, target=second)
    services.copy_rows(source=second, target=third)
    assert third.rows.get().copied_from_id == original.pk
    assert services.copy_rows(source=first, target=third).skipped == 1
    # Back into the dataset holding the original: nothing to add either.
    assert services.copy_rows(source=third, target=first).skipped == 1
    assert [d.rows.count() for d in (first, second, third)] == [1, 1, 1]


def test_deleting_the_original_keeps_its_copies(team):
    source, target = (DatasetFactory(team=team, mode=Mode.SESSION) for _ in range(2))
    original = RowFactory(dataset=source)
    services.copy_rows(source=source, target=target)
    services.delete_row(row=original)
    assert target.rows.get().copied_from_id is None


def test_copying_only_the_picked_rows(team):
    source = DatasetFactory(team=team, mode=Mode.MESSAGE)
    target = DatasetFactory(team=team, mode=Mode.MESSAGE)
    keep, _ = RowFactory(dataset=source, expected_output="x"), RowFactory(dataset=source)
    services.copy_rows(source=source, target=target, row_ids=[keep.pk])
    (copy,) = target.rows.all()
    assert (copy.input, copy.expected_output, copy.origin) == (keep.input, "x", Origin.COPY)


def test_rows_copy_only_into_another_dataset_of_the_same_mode(team):
    source = DatasetFactory(team=team, mode=Mode.MESSAGE)
    row = RowFactory(dataset=source)
    for target in [DatasetFactory(team=team, mode=Mode.SESSION), source]:
        with pytest.raises(ValidationError):
            services.copy_rows(source=source, target=target)
    with pytest.raises(ValidationError):
        services.copy_rows(source=source, target=DatasetFactory(team=TeamFactory()))
    other = RowFactory()
    with pytest.raises(ValidationError):
        services.copy_rows(
            source=source, target=DatasetFactory(team=team), row_ids=[row.pk, other.pk]
        )


def test_a_copy_that_fails_midway_deletes_the_copies_it_made(team, monkeypatch):
    source = DatasetFactory(team=team, mode=Mode.SESSION)
    target = DatasetFactory(team=team, mode=Mode.SESSION)
    for n in range(3):
        RowFactory(dataset=source, input=f"q{n}")
    monkeypatch.setattr(services, "COPY_CHUNK", 1)
    real, calls = services.insert_rows, []

    def failing(rows):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("lost the database")
        return real(rows)

    monkeypatch.setattr(services, "insert_rows", failing)
    with pytest.raises(RuntimeError):
        services.copy_rows(source=source, target=target)
    assert not target.rows.exists()
    assert source.rows.count() == 3
