from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.datasets import jobs, services
from evalloop.datasets.models import Dataset, ImportJob, JobStatus, Mode, Origin
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory, vip_sessions
from evalloop.lib.errors import Conflict


def url(name, *args):
    return reverse(f"datasets:{name}", args=args)


def flashes(response):
    return [str(m) for m in response.wsgi_request._messages]


# The list


def test_the_list_shows_row_counts_in_a_fixed_number_of_queries(
    cast, login, django_assert_num_queries
):
    client = login(cast.viewer)
    for _ in range(3):
        RowFactory.create_batch(2, dataset=DatasetFactory(team=cast.team))
    DatasetFactory(team=cast.other_team, name="Hidden")
    client.get(url("dataset-list"))  # warm the session and flags
    with django_assert_num_queries(6):
        response = client.get(url("dataset-list"))
    DatasetFactory.create_batch(5, team=cast.team)
    with django_assert_num_queries(6):
        client.get(url("dataset-list"))
    assert response.content.decode().count('data-testid="row-count">2<') == 3
    assert b"Hidden" not in response.content


def test_an_editor_creates_a_dataset(cast, login):
    response = login(cast.editor).post(
        url("dataset-list"), {"name": "Refunds", "mode": "session", "description": "<b>x</b>"}
    )
    dataset = Dataset.objects.get(team=cast.team, name="Refunds")
    assert response.url == url("dataset-detail", dataset.pk)
    assert dataset.mode == Mode.SESSION


def test_a_duplicate_name_is_a_form_error(cast, login, dataset):
    response = login(cast.editor).post(url("dataset-list"), {"name": "Golden", "mode": "message"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["A dataset named 'Golden' already exists in this team."]
    assert not form.non_field_errors()


def test_a_viewer_sees_the_list_but_cannot_create(cast, login):
    client = login(cast.viewer)
    assert b"New dataset" not in client.get(url("dataset-list")).content
    response = client.post(url("dataset-list"), {"name": "X", "mode": "message"})
    assert response.status_code == 403
    assert not Dataset.objects.filter(name="X").exists()


# One dataset


def test_the_dataset_page_lists_rows_with_their_origin_and_source(cast, login, dataset, chatbot):
    session = SessionFactory(chatbot=chatbot, external_id="s-<42>")
    RowFactory(
        dataset=dataset, input="<script>x</script>", origin=Origin.IMPORT, source_session=session
    )
    RowFactory(dataset=dataset, input="by hand", edited_at=dataset.created_at)
    response = login(cast.viewer).get(url("dataset-detail", dataset.pk))
    body = response.content.decode()
    assert "&lt;script&gt;" in body
    assert "<script>x" not in body
    assert reverse("chat:transcript", kwargs={"slug": "support", "pk": session.pk}) in body
    assert "session s-&lt;42&gt;" in body
    assert "edited" in body
    assert 'id="auto-population-rules"' in body
    assert 'data-testid="row-count">2 rows' in body


def test_the_rows_list_takes_a_fixed_number_of_queries(
    cast, login, dataset, chatbot, django_assert_num_queries
):
    client = login(cast.editor)
    sessions = [SessionFactory(chatbot=chatbot) for _ in range(3)]
    for session in sessions:
        RowFactory(dataset=dataset, origin=Origin.IMPORT, source_session=session)
    client.get(url("dataset-detail", dataset.pk))
    # 11 for the page (one numbers its rows), 3 for its rules section (the flag, the rules).
    with django_assert_num_queries(14):
        client.get(url("dataset-detail", dataset.pk))
    for _ in range(20):
        RowFactory(
            dataset=dataset, origin=Origin.IMPORT, source_session=SessionFactory(chatbot=chatbot)
        )
    with django_assert_num_queries(14):
        response = client.get(url("dataset-detail", dataset.pk))
    assert response.context["rows"].paginator.count == 23


def test_rows_are_paginated_and_searchable_with_an_htmx_partial(cast, login, dataset):
    RowFactory.create_batch(30, dataset=dataset, output="plain")
    RowFactory(dataset=dataset, output="needle in the output")
    RowFactory(dataset=dataset, history=[{"role": "human", "content": "needle in history"}])
    client = login(cast.viewer)
    first = client.get(url("dataset-detail", dataset.pk))
    assert len(first.context["rows"].object_list) == 25
    second = client.get(url("dataset-detail", dataset.pk), {"page": 2})
    assert len(second.context["rows"].object_list) == 7
    found = client.get(url("dataset-detail", dataset.pk), {"q": "NEEDLE"}, HTTP_HX_REQUEST="true")
    body = found.content.decode()
    assert body.lstrip().startswith('<div id="rows">')
    assert body.count('<tr id="row-') == 2


def test_a_session_mode_page_shows_transcripts(cast, login):
    dataset = DatasetFactory(team=cast.team, mode=Mode.SESSION)
    RowFactory(dataset=dataset, history=[{"role": "human", "content": "hello there"}])
    body = login(cast.viewer).get(url("dataset-detail", dataset.pk)).content.decode()
    assert "1 turn" in body
    assert "hello there" in body


def test_an_editor_renames_a_dataset_but_not_its_mode(cast, login, dataset):
    client = login(cast.editor)
    response = client.post(url("dataset-edit", dataset.pk), {"name": "Renamed", "mode": "session"})
    dataset.refresh_from_db()
    assert response.status_code == 302
    assert (dataset.name, dataset.mode) == ("Renamed", Mode.MESSAGE)


def test_an_editor_deletes_a_dataset_after_confirming(cast, login, dataset):
    client = login(cast.editor)
    assert b"Delete dataset" in client.get(url("dataset-delete", dataset.pk)).content
    assert client.post(url("dataset-delete", dataset.pk)).url == url("dataset-list")
    assert not Dataset.objects.filter(pk=dataset.pk).exists()


def test_deleting_during_an_import_is_refused(cast, login, dataset):
    ImportJob.objects.create(dataset=dataset, status=JobStatus.RUNNING)
    response = login(cast.editor).post(url("dataset-delete", dataset.pk), follow=True)
    assert "still running" in " ".join(flashes(response))
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_the_job_progress_partial_polls_while_running_and_stops_when_done(cast, login, dataset):
    job = ImportJob.objects.create(dataset=dataset, total=10, processed=4)
    client = login(cast.viewer)
    page = client.get(url("dataset-detail", dataset.pk)).content.decode()
    assert url("job", dataset.pk, job.pk) in page
    running = client.get(url("job", dataset.pk, job.pk)).content.decode()
    assert 'value="40"' in running
    assert "hx-trigger" in running
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.DONE, rows_added=9)
    done = client.get(url("job", dataset.pk, job.pk)).content.decode()
    assert "hx-trigger" not in done
    assert "9 rows added" in done


def test_a_failed_import_stays_visible_on_the_dataset_page(cast, login, dataset):
    ImportJob.objects.create(
        dataset=dataset,
        status=JobStatus.FAILED,
        error="RuntimeError: <boom>",
        finished_at=timezone.now(),
    )
    ImportJob.objects.create(
        dataset=dataset, status=JobStatus.DONE, finished_at=timezone.now() - timedelta(days=1)
    )
    page = login(cast.viewer).get(url("dataset-detail", dataset.pk)).content.decode()
    assert "The import failed" in page
    assert "&lt;boom&gt;" in page
    assert page.count('class="card import-job"') == 1


def test_one_row_reads_in_the_singular(cast, login, dataset):
    RowFactory(dataset=dataset)
    job = ImportJob.objects.create(dataset=dataset, status=JobStatus.DONE, rows_added=1)
    client = login(cast.viewer)
    page = client.get(url("dataset-detail", dataset.pk)).content.decode()
    assert 'data-testid="row-count">1 row<' in page
    assert "1 row added" in client.get(url("job", dataset.pk, job.pk)).content.decode()
    assert jobs._job_title(job) == "Import into Golden finished: 1 row added, 0 already there."
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="boom")
    failed = client.get(url("job", dataset.pk, job.pk)).content.decode()
    assert "The import failed after 1 row:" in failed


# Rows by hand


def test_an_editor_adds_and_edits_a_row(cast, login, dataset):
    client = login(cast.editor)
    form = {"input": "q", "output": "a", "history": "[]", "context": "{}"}
    form |= {"participant_data": "{}", "state": "{}", "expected_output": ""}
    assert client.post(url("row-create", dataset.pk), form).status_code == 302
    row = dataset.rows.get()
    assert (row.input, row.origin, row.edited) == ("q", Origin.MANUAL, False)
    client.post(url("row-edit", dataset.pk, row.pk), form | {"expected_output": "ideal"})
    row.refresh_from_db()
    assert (row.expected_output, row.edited) == ("ideal", True)


def test_an_empty_or_missing_json_field_of_the_row_form_stores_it_empty(cast, login, dataset):
    client = login(cast.editor)
    response = client.post(url("row-create", dataset.pk), {"input": "q", "history": ""})
    assert response.status_code == 302
    row = dataset.rows.get()
    assert (row.history, row.context, row.participant_data, row.state) == ([], {}, {}, {})
    response = client.post(url("row-edit", dataset.pk, row.pk), {"input": "edited"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.input, row.history, row.state) == ("edited", [], {})


def test_a_row_with_a_bad_history_is_a_form_error(cast, login, dataset):
    form = {"history": '[{"role": "bot"}]', "context": "{}", "participant_data": "{}"}
    response = login(cast.editor).post(url("row-create", dataset.pk), form | {"state": "{}"})
    assert response.status_code == 200
    assert b"role must be one of" in response.content
    assert not dataset.rows.exists()


def test_deleting_a_row_asks_first_then_names_it_by_its_place(cast, login, dataset):
    first, second = RowFactory(dataset=dataset), RowFactory(dataset=dataset)
    client = login(cast.editor)
    asked = client.get(url("row-delete", dataset.pk, first.pk)).content.decode()
    assert "Delete row 1 of Golden?" in asked
    assert 'method="post"' in asked
    assert dataset.rows.count() == 2
    response = client.post(url("row-delete", dataset.pk, first.pk))
    assert response.url == url("dataset-detail", dataset.pk)
    assert flashes(response) == ["Row 1 deleted."]
    assert list(dataset.rows.all()) == [second]


def test_the_rows_table_deletes_with_an_htmx_confirm_and_renumbers(cast, login, dataset):
    rows = [RowFactory(dataset=dataset, input=f"q{i}") for i in range(3)]
    client = login(cast.editor)
    page = client.get(url("dataset-detail", dataset.pk)).content.decode()
    delete = url("row-delete", dataset.pk, rows[0].pk)
    assert f'href="{delete}"' in page  # without JavaScript: the confirmation page
    assert f'hx-delete="{delete}"' in page
    assert 'hx-confirm="Delete row 1? Rows added after it move up a place."' in page
    table = client.delete(f"{delete}?q=q", HTTP_HX_REQUEST="true").content.decode()
    assert table.lstrip().startswith('<div id="rows">')
    assert [row.pk for row in dataset.rows.all()] == [rows[2].pk, rows[1].pk]
    assert 'aria-label="Row 2">2</a>' in table  # q2, now the second row
    assert 'aria-label="Row 3"' not in table


def test_an_htmx_delete_refused_reloads_the_page_to_say_why(cast, login, dataset, monkeypatch):
    row = RowFactory(dataset=dataset)

    def refuse(*, row):
        raise Conflict("An unfinished run evaluates this row; delete it once the run ends.")

    monkeypatch.setattr(services, "delete_row", refuse)
    client = login(cast.editor)
    response = client.delete(url("row-delete", dataset.pk, row.pk), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == url("dataset-detail", dataset.pk)
    assert dataset.rows.exists()


def test_rows_are_numbered_by_their_place_in_the_dataset_not_by_id(cast, login, dataset):
    RowFactory.create_batch(5, dataset=DatasetFactory(team=cast.team))  # ids taken elsewhere
    rows = [RowFactory(dataset=dataset, output=text) for text in ("a", "needle", "c")]
    client = login(cast.viewer)
    page = client.get(url("dataset-detail", dataset.pk)).content.decode()
    for place, row in enumerate(rows, start=1):
        assert f'href="{url("row-detail", dataset.pk, row.pk)}" aria-label="Row {place}"' in page
    found = client.get(url("dataset-detail", dataset.pk), {"q": "needle"})
    assert [row.position for row in found.context["rows"]] == [2]
    detail = client.get(url("row-detail", dataset.pk, rows[1].pk)).content.decode()
    assert "<title>Row 2 · Golden" in detail


def test_a_viewer_reads_a_whole_row_with_its_provenance(cast, login, dataset, chatbot):
    (found,) = vip_sessions(chatbot, 1)
    selection = services.select_sessions(team=cast.team, session_ids=[found.pk])
    services.import_sessions(dataset=dataset, selection=selection)
    row = dataset.rows.get()
    page = login(cast.viewer).get(url("row-detail", dataset.pk, row.pk)).content.decode()
    assert "<h1>Row 1</h1>" in page
    assert "Imported from traffic" in page
    transcript = reverse("chat:transcript", kwargs={"slug": "support", "pk": found.pk})
    assert f'href="{transcript}#message-{row.source_ai_message_id}"' in page
    assert f'href="{transcript}#message-{row.source_human_message_id}"' in page
    assert "hello" in page  # the output
    assert "&quot;vip&quot;" in page  # the context, as JSON
    assert "Never edited." in page

    assert url("row-edit", dataset.pk, row.pk) not in page
    assert (
        login(cast.editor)
        .get(url("row-detail", dataset.pk, row.pk))
        .content.decode()
        .count(url("row-edit", dataset.pk, row.pk))
    )


def test_the_row_page_only_reads(cast, login, dataset):
    row = services.add_row(dataset=dataset, values={"input": "hi", "output": "hello"})
    client = login(cast.owner)
    for method in (client.post, client.delete, client.put):
        assert method(url("row-detail", dataset.pk, row.pk)).status_code == 405
    assert dataset.rows.filter(pk=row.pk).exists()


def test_a_copied_row_links_the_row_it_came_from(cast, login, dataset):
    original = RowFactory(dataset=dataset, input="first", history=[{"role": "ai", "content": "x"}])
    target = DatasetFactory(team=cast.team, mode=Mode.MESSAGE, name="Target")
    services.copy_rows(source=dataset, target=target)
    copy = target.rows.get()
    page = login(cast.viewer).get(url("row-detail", target.pk, copy.pk)).content.decode()
    assert "Copied from <a href" in page
    assert url("row-detail", dataset.pk, original.pk) in page
    assert "row 1 of Golden" in page
    original.delete()
    page = login(cast.viewer).get(url("row-detail", target.pk, copy.pk)).content.decode()
    assert "The row it was copied from was deleted." in page


def test_the_dataset_page_links_every_row_to_its_page_for_viewers(cast, login, dataset):
    row = RowFactory(dataset=dataset)
    page = login(cast.viewer).get(url("dataset-detail", dataset.pk)).content.decode()
    assert f'href="{url("row-detail", dataset.pk, row.pk)}">View</a>' in page
    assert url("row-edit", dataset.pk, row.pk) not in page
    assert url("row-delete", dataset.pk, row.pk) not in page


def test_an_empty_row_is_a_form_error(cast, login, dataset):
    client = login(cast.editor)
    empty = {"input": " ", "output": "", "history": "[]", "context": "{}"}
    response = client.post(url("row-create", dataset.pk), empty)
    assert response.status_code == 200
    assert services.EMPTY_ROW in response.content.decode()
    assert not dataset.rows.exists()
    row = RowFactory(dataset=dataset, input="kept")
    response = client.post(url("row-edit", dataset.pk, row.pk), empty)
    assert services.EMPTY_ROW in response.content.decode()
    row.refresh_from_db()
    assert row.input == "kept"


def test_saving_a_row_names_it_by_its_place(cast, login, dataset):
    RowFactory(dataset=dataset)
    row = RowFactory(dataset=dataset)
    response = login(cast.editor).post(url("row-edit", dataset.pk, row.pk), {"input": "new"})
    assert response.url == url("row-detail", dataset.pk, row.pk)
    assert flashes(response) == ["Row 2 saved."]


# CSV


def test_a_csv_upload_adds_rows_or_reports_every_problem(cast, login, dataset):
    client = login(cast.editor)
    bad = io.BytesIO(b"input,history\nok,[]\nbad,nope\n")
    bad.name = "rows.csv"
    response = client.post(url("csv-upload", dataset.pk), {"file": bad})
    assert response.status_code == 200
    assert b"Nothing was written" in response.content
    assert b"not JSON" in response.content
    assert not dataset.rows.exists()
    good = io.BytesIO(b"input,output\nq,a\n")
    good.name = "rows.csv"
    response = client.post(url("csv-upload", dataset.pk), {"file": good})
    assert response.status_code == 302
    assert dataset.rows.count() == 1


def test_a_downloaded_csv_uploads_back_with_nothing_edited_or_added(cast, login, dataset):
    rows = [RowFactory(dataset=dataset, input=f"q{i}", context={"n": i}) for i in range(3)]
    client = login(cast.editor)
    text = b"".join(client.get(url("csv-download", dataset.pk)).streaming_content)
    unchanged = io.BytesIO(text)
    unchanged.name = "golden.csv"
    response = client.post(url("csv-upload", dataset.pk), {"file": unchanged})
    assert flashes(response) == ["0 rows added, 0 updated, 3 unchanged."]
    assert dataset.rows.count() == 3
    assert not dataset.rows.filter(edited_at__isnull=False).exists()
    changed = io.BytesIO(text.replace(b"q1", b"q1 edited"))
    changed.name = "golden.csv"
    response = client.post(url("csv-upload", dataset.pk), {"file": changed})
    assert flashes(response)[-1] == "0 rows added, 1 updated, 2 unchanged."
    assert list(dataset.rows.filter(edited_at__isnull=False)) == [rows[1]]


def test_the_csv_download_streams_the_rows(cast, login, dataset):
    RowFactory(dataset=dataset, input="q1")
    response = login(cast.viewer).get(url("csv-download", dataset.pk))
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="golden.csv"' in response["Content-Disposition"]
    assert "q1" in b"".join(response.streaming_content).decode()


def test_the_csv_download_writes_formulas_as_text(cast, login, dataset):
    RowFactory(dataset=dataset, input="=HYPERLINK(1)", output="+1")
    response = login(cast.viewer).get(url("csv-download", dataset.pk))
    assert "'=HYPERLINK(1),'+1" in b"".join(response.streaming_content).decode()


# Copies


def test_an_editor_copies_ticked_or_all_rows(cast, login, dataset):
    target = DatasetFactory(team=cast.team, mode=Mode.MESSAGE, name="Target")
    rows = RowFactory.create_batch(3, dataset=dataset)
    client = login(cast.editor)
    response = client.post(url("copy", dataset.pk), {"target": target.pk, "row": [rows[0].pk]})
    assert response.url == url("dataset-detail", dataset.pk)
    assert target.rows.count() == 1
    response = client.post(url("copy", dataset.pk), {"target": target.pk, "all_rows": "on"})
    assert target.rows.count() == 3
    assert flashes(response)[-1] == (
        "Copied into Target: 2 rows added, 1 already in the dataset (skipped)."
    )


def test_copy_and_import_mistakes_read_in_plain_words(cast, login, dataset, chatbot):
    target = DatasetFactory(team=cast.team, mode=Mode.MESSAGE, name="Target")
    row = RowFactory(dataset=dataset)
    client = login(cast.editor)
    no_target = client.post(url("copy", dataset.pk), {"all_rows": "on"})
    assert flashes(no_target)[-1] == "Pick the dataset to copy the rows into."
    gone = client.post(url("copy", dataset.pk), {"target": target.pk, "row": [row.pk, row.pk + 1]})
    assert flashes(gone)[-1] == (
        "Some ticked rows were deleted meanwhile: reload the page and tick again."
    )
    no_chatbot = client.post(url("import", dataset.pk), {"filter": ""})
    assert flashes(no_chatbot)[-1] == (
        "Nothing imported: Pick the chatbot whose sessions to import."
    )
    upload = io.BytesIO(b"question\nq\n")
    upload.name = "rows.csv"
    page = client.post(url("csv-upload", dataset.pk), {"file": upload}).content.decode()
    assert "unknown column; the columns are id, input, output" in page
    assert "docs" not in page
    for response in (no_target, gone, no_chatbot):
        assert not any(word in flashes(response)[-1] for word in ("target", "row_ids", "name:"))
    assert not target.rows.exists()


def test_copying_into_another_mode_is_refused(cast, login, dataset):
    other = DatasetFactory(team=cast.team, mode=Mode.SESSION)
    RowFactory(dataset=dataset)
    login(cast.editor).post(url("copy", dataset.pk), {"target": other.pk, "all_rows": "on"})
    assert not other.rows.exists()


# Imports from traffic


def test_the_import_page_counts_before_confirming(cast, login, dataset, chatbot):
    vip_sessions(chatbot, 3)
    SessionFactory(chatbot=chatbot)
    client = login(cast.editor)
    page = client.get(
        url("import", dataset.pk), {"chatbot": "support", "f": "tags:any_of:vip"}
    ).content.decode()
    assert "<strong>3</strong> sessions match" in page
    assert "tags any of vip" in page
    assert not dataset.rows.exists()
    response = client.post(
        url("import", dataset.pk), {"chatbot": "support", "filter": "f=tags:any_of:vip"}
    )
    assert response.url == url("dataset-detail", dataset.pk)
    assert dataset.rows.count() == 3
    assert "3 rows added, 0 already in the dataset" in " ".join(flashes(response))


def test_adding_a_filter_keeps_the_chosen_chatbot_and_sample(cast, login, dataset, chatbot):
    vip_sessions(chatbot, 2)
    SessionFactory(chatbot=chatbot)
    client = login(cast.editor)
    added = client.get(
        url("import", dataset.pk),
        {"chatbot": "support", "sample_percent": "50", "field": "tags", "op": "any_of"}
        | {"value": "vip", "add": "1"},
    )
    assert "chatbot=support" in added.url
    assert "sample_percent=50" in added.url
    page = client.get(added.url).content.decode()
    assert 'value="support" selected' in page
    assert "<strong>2</strong> sessions match the filters" in page
    # The count comes after the filters it reflects, and the builder carries the form along.
    assert page.index('class="filter-builder') < page.index('data-testid="import-count"')
    assert 'data-filter-carries="import-pick"' in page
    assert page.count('form="import-pick"') >= 3  # chatbot, sample, count button


def test_the_import_page_shows_a_sampled_estimate(cast, login, dataset, chatbot):
    vip_sessions(chatbot, 10)
    page = login(cast.editor).get(
        url("import", dataset.pk), {"chatbot": "support", "sample_percent": "50"}
    )
    assert "about <strong>5</strong>" in page.content.decode()


def test_an_invalid_filter_shows_its_error_and_counts_nothing(cast, login, dataset, chatbot):
    vip_sessions(chatbot, 2)
    page = login(cast.editor).get(
        url("import", dataset.pk), {"chatbot": "support", "f": "tags:gt:vip"}
    )
    assert page.context["count"] is None
    assert b"clause 1" in page.content


def test_an_import_confirmed_with_a_tampered_filter_adds_nothing(cast, login, dataset, chatbot):
    vip_sessions(chatbot, 2)
    response = login(cast.editor).post(
        url("import", dataset.pk), {"chatbot": "support", "filter": "f=nope:eq:1"}
    )
    assert response.url == url("import", dataset.pk)
    assert not dataset.rows.exists()


def test_a_large_import_answers_with_a_job_on_the_dataset_page(
    cast, login, dataset, chatbot, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "LARGE_IMPORT_SOURCES", 1)
    vip_sessions(chatbot, 2)
    with django_capture_on_commit_callbacks(execute=False):
        response = login(cast.editor).post(url("import", dataset.pk), {"chatbot": "support"})
    job = ImportJob.objects.get(dataset=dataset)
    assert "in the background" in " ".join(flashes(response))
    assert job.created_by == cast.editor
    page = login(cast.viewer).get(url("dataset-detail", dataset.pk)).content.decode()
    assert f'id="job-{job.pk}"' in page


# The sessions list's "Add to dataset"


def test_the_add_sessions_form_offers_the_teams_datasets_and_the_matching_count(
    cast, login, dataset, chatbot
):
    vip_sessions(chatbot, 2)
    SessionFactory(chatbot=chatbot)
    DatasetFactory(team=cast.other_team, name="Theirs")
    response = login(cast.editor).get(
        url("add-sessions"),
        {"chatbot": "support", "f": "tags:any_of:vip"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/chatbots/support/sessions/?f=tags:any_of:vip",
    )
    body = response.content.decode()
    assert '<form id="add-to-dataset"' in body
    assert "Add all 2 matching" in body
    assert "Golden" in body
    assert "Theirs" not in body
    assert 'value="f=tags%3Aany_of%3Avip"' in body or 'value="f=tags:any_of:vip"' in body


def test_the_add_sessions_form_preselects_the_only_dataset(cast, login, dataset, chatbot):
    response = login(cast.editor).get(url("add-sessions"), {"chatbot": "support"})
    assert f'<option value="{dataset.pk}" selected>' in response.content.decode()


def test_the_add_sessions_form_offers_the_dataset_used_last(cast, login, dataset, chatbot):
    other = DatasetFactory(team=cast.team, name="Other", mode=dataset.mode)
    session = SessionFactory(chatbot=chatbot)
    client = login(cast.editor)
    client.post(
        url("add-sessions"), {"dataset": other.pk, "chatbot": "support", "session": [session.pk]}
    )
    response = client.get(url("add-sessions"), {"chatbot": "support"})
    assert f'<option value="{other.pk}" selected>' in response.content.decode()


def test_adding_selected_sessions_redirects_back_with_what_was_added(cast, login, dataset, chatbot):
    sessions = vip_sessions(chatbot, 3)
    services.import_sessions(
        dataset=dataset,
        selection=services.select_sessions(team=cast.team, session_ids=[sessions[0].pk]),
    )
    back = "/chatbots/support/sessions/"
    response = login(cast.editor).post(
        url("add-sessions"),
        {
            "dataset": dataset.pk,
            "chatbot": "support",
            "session": [s.pk for s in sessions[:2]],
            "next": back,
        },
    )
    assert response.url == back
    assert "1 row added, 1 already in the dataset" in " ".join(flashes(response))
    assert dataset.rows.count() == 2


def test_add_all_matching_sends_the_filter_not_ids(cast, login, dataset, chatbot):
    vip_sessions(chatbot, 2)
    SessionFactory(chatbot=chatbot)
    response = login(cast.editor).post(
        url("add-sessions"),
        {
            "dataset": dataset.pk,
            "chatbot": "support",
            "filter": "f=tags:any_of:vip",
            "all_matching": "on",
        },
    )
    assert response.url == url("dataset-detail", dataset.pk)
    assert dataset.rows.count() == 2


def test_an_unsafe_next_url_is_ignored(cast, login, dataset, chatbot):
    (session,) = vip_sessions(chatbot, 1)
    response = login(cast.editor).post(
        url("add-sessions"),
        {
            "dataset": dataset.pk,
            "chatbot": "support",
            "session": session.pk,
            "next": "https://evil.example/",
        },
    )
    assert response.url == url("dataset-detail", dataset.pk)


@pytest.mark.parametrize("next_url", ["NaN", "-1", "dataset-list", "javascript:alert(1)"])
def test_a_next_that_is_not_a_url_of_ours_is_ignored(cast, login, dataset, chatbot, next_url):
    (session,) = vip_sessions(chatbot, 1)
    response = login(cast.editor).post(
        url("add-sessions"),
        {"dataset": dataset.pk, "chatbot": "support", "session": session.pk, "next": next_url},
    )
    assert response.status_code == 302
    assert response.url == url("dataset-detail", dataset.pk)


def test_another_teams_sessions_or_dataset_are_never_written(cast, login, dataset, chatbot):
    theirs = SessionFactory(chatbot=ChatbotFactory(team=cast.other_team))
    their_dataset = DatasetFactory(team=cast.other_team)
    (mine,) = vip_sessions(chatbot, 1)
    client = login(cast.editor)
    response = client.post(
        url("add-sessions"), {"dataset": dataset.pk, "chatbot": "support", "session": [theirs.pk]}
    )
    assert "Nothing added" in " ".join(flashes(response))
    client.post(
        url("add-sessions"),
        {"dataset": their_dataset.pk, "chatbot": "support", "session": [mine.pk]},
    )
    assert not dataset.rows.exists()
    assert not their_dataset.rows.exists()


def test_a_viewer_cannot_load_or_post_the_add_sessions_form(cast, login, dataset, chatbot):
    (session,) = vip_sessions(chatbot, 1)
    client = login(cast.viewer)
    assert client.get(url("add-sessions"), {"chatbot": "support"}).status_code == 403
    response = client.post(
        url("add-sessions"), {"dataset": dataset.pk, "chatbot": "support", "session": [session.pk]}
    )
    assert response.status_code == 403
    assert not dataset.rows.exists()


# Tenancy and roles on every page


def pages(dataset, row):
    return [
        url("dataset-detail", dataset.pk),
        url("dataset-edit", dataset.pk),
        url("dataset-delete", dataset.pk),
        url("row-create", dataset.pk),
        url("row-edit", dataset.pk, row.pk),
        url("import", dataset.pk),
        url("csv-download", dataset.pk),
        url("csv-upload", dataset.pk),
        url("row-detail", dataset.pk, row.pk),
        url("row-delete", dataset.pk, row.pk),
    ]


def test_the_outsider_gets_404_everywhere(cast, login, dataset):
    row = RowFactory(dataset=dataset)
    job = ImportJob.objects.create(dataset=dataset)
    client = login(cast.outsider)
    for page in [*pages(dataset, row), url("job", dataset.pk, job.pk)]:
        assert client.get(page).status_code == 404, page
    for page in [
        url("row-delete", dataset.pk, row.pk),
        url("copy", dataset.pk),
        url("dataset-delete", dataset.pk),
    ]:
        assert client.post(page, {"target": dataset.pk, "all_rows": "on"}).status_code == 404, page
    assert Dataset.objects.filter(pk=dataset.pk).exists()
    assert dataset.rows.count() == 1


def test_a_viewer_cannot_write_anywhere(cast, login, dataset):
    row = RowFactory(dataset=dataset, input="kept")
    target = DatasetFactory(team=cast.team, mode=Mode.MESSAGE)
    client = login(cast.viewer)
    for page in [*pages(dataset, row)[1:6], url("csv-upload", dataset.pk)]:
        assert client.get(page).status_code == 403, page
    assert client.get(url("row-delete", dataset.pk, row.pk)).status_code == 403
    assert client.delete(url("row-delete", dataset.pk, row.pk)).status_code == 403
    writes = [
        url("dataset-edit", dataset.pk),
        url("dataset-delete", dataset.pk),
        url("row-create", dataset.pk),
        url("row-edit", dataset.pk, row.pk),
        url("row-delete", dataset.pk, row.pk),
        url("import", dataset.pk),
        url("csv-upload", dataset.pk),
        url("copy", dataset.pk),
    ]
    for page in writes:
        response = client.post(
            page, {"name": "x", "input": "x", "target": target.pk, "all_rows": "on"}
        )
        assert response.status_code == 403, page
    row.refresh_from_db()
    assert (row.input, target.rows.count(), Dataset.objects.get(pk=dataset.pk).name) == (
        "kept",
        0,
        "Golden",
    )
