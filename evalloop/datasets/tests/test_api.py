from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.datasets import csvio, jobs, services
from evalloop.datasets.models import Dataset, ImportJob, JobStatus, Mode, Origin
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory, vip_sessions
from evalloop.teams.permissions import Role


def locs(response):
    return [item["loc"] for item in response.json()["detail"]]


# Datasets


def test_an_editor_creates_a_dataset(api):
    response = api(Role.EDITOR).post("/datasets", {"name": "Golden", "mode": "session"})
    assert response.status_code == 201
    assert response.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "name": "Golden",
        "mode": "session",
        "description": "",
        "row_count": 0,
        "created_at": "",
    }


def test_a_taken_name_is_409_and_a_bad_mode_is_422(api, dataset):
    client = api(Role.EDITOR)
    taken = client.post("/datasets", {"name": "Golden", "mode": "message"})
    assert taken.status_code == 409
    assert taken.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "A dataset named 'Golden' already exists in this team."}
    ]
    bad = client.post("/datasets", {"name": "Other", "mode": "turn", "colour": "red"})
    assert bad.status_code == 422
    assert ["body", "mode"] in locs(bad)
    assert ["body", "colour"] in locs(bad)
    assert not Dataset.objects.filter(name="Other").exists()


def test_datasets_are_listed_with_row_counts(api, cast, dataset):
    RowFactory.create_batch(3, dataset=dataset)
    DatasetFactory(team=cast.other_team)
    response = api(Role.VIEWER).get("/datasets")
    assert [(d["name"], d["row_count"]) for d in response.json()["items"]] == [("Golden", 3)]
    assert api(Role.VIEWER).get(f"/datasets/{dataset.pk}").json()["row_count"] == 3


def test_a_dataset_is_renamed_but_its_mode_is_fixed(api, dataset):
    client = api(Role.EDITOR)
    renamed = client.patch(f"/datasets/{dataset.pk}", {"name": "New", "description": "d"})
    assert (renamed.json()["name"], renamed.json()["description"]) == ("New", "d")
    moved = client.patch(f"/datasets/{dataset.pk}", {"mode": "session"})
    assert moved.status_code == 422
    assert locs(moved) == [["body", "mode"]]


def test_deleting_a_dataset_with_an_import_running_is_409(api, dataset):
    client = api(Role.EDITOR)
    job = ImportJob.objects.create(dataset=dataset, status=JobStatus.PENDING)
    assert client.delete(f"/datasets/{dataset.pk}").status_code == 409
    job.delete()
    assert client.delete(f"/datasets/{dataset.pk}").status_code == 204
    assert not Dataset.objects.filter(pk=dataset.pk).exists()


# Rows


def test_rows_are_listed_newest_first_with_cursor_pages(api, dataset, chatbot):
    session = SessionFactory(chatbot=chatbot, external_id="s-9")
    rows = RowFactory.create_batch(3, dataset=dataset)
    sourced = RowFactory(dataset=dataset, origin=Origin.IMPORT, source_session=session)
    client = api(Role.VIEWER)
    first = client.get(f"/datasets/{dataset.pk}/rows", limit=2).json()
    assert [item["id"] for item in first["items"]] == [sourced.pk, rows[2].pk]
    assert first["items"][0]["source_session"] == {
        "id": session.pk,
        "chatbot": "support",
        "external_id": "s-9",
    }
    assert (first["items"][0]["rule_id"], first["items"][0]["origin"]) == (None, "import")
    second = client.get(f"/datasets/{dataset.pk}/rows", limit=2, cursor=first["next_cursor"]).json()
    assert [item["id"] for item in second["items"]] == [rows[1].pk, rows[0].pk]
    assert second["next_cursor"] is None


def test_rows_can_be_searched(api, dataset):
    RowFactory(dataset=dataset, output="the refund policy")
    RowFactory(dataset=dataset, output="other")
    items = api(Role.VIEWER).get(f"/datasets/{dataset.pk}/rows", q="refund").json()["items"]
    assert [item["output"] for item in items] == ["the refund policy"]


def test_the_rows_list_takes_a_fixed_number_of_queries(
    api, dataset, chatbot, django_assert_num_queries
):
    client = api(Role.VIEWER)
    for _ in range(5):
        RowFactory(
            dataset=dataset, origin=Origin.IMPORT, source_session=SessionFactory(chatbot=chatbot)
        )
    client.get(f"/datasets/{dataset.pk}/rows")
    # The key's throttle, the key, then the rows.
    with django_assert_num_queries(4):
        client.get(f"/datasets/{dataset.pk}/rows")
    for _ in range(10):
        RowFactory(
            dataset=dataset, origin=Origin.IMPORT, source_session=SessionFactory(chatbot=chatbot)
        )
    with django_assert_num_queries(4):
        client.get(f"/datasets/{dataset.pk}/rows")


def test_a_row_is_added_edited_and_deleted_by_hand(api, dataset):
    client = api(Role.EDITOR)
    created = client.post(
        f"/datasets/{dataset.pk}/rows",
        {"input": "q", "output": "a", "history": [{"role": "human", "content": "earlier"}]},
    )
    assert created.status_code == 201
    row = created.json()
    assert (row["origin"], row["edited"]) == ("manual", False)
    edited = client.patch(f"/datasets/{dataset.pk}/rows/{row['id']}", {"expected_output": "A"})
    assert (edited.json()["expected_output"], edited.json()["edited"]) == ("A", True)
    assert edited.json()["input"] == "q"
    assert client.get(f"/datasets/{dataset.pk}/rows/{row['id']}").json()["expected_output"] == "A"
    assert client.delete(f"/datasets/{dataset.pk}/rows/{row['id']}").status_code == 204
    assert not dataset.rows.exists()


def test_invalid_row_content_is_422_naming_the_field(api, dataset):
    client = api(Role.EDITOR)
    bad = client.post(
        f"/datasets/{dataset.pk}/rows", {"history": [{"role": "robot", "content": ""}]}
    )
    assert bad.status_code == 422
    assert locs(bad) == [["body", "history"]]
    wrong_type = client.post(f"/datasets/{dataset.pk}/rows", {"context": [1]})
    assert wrong_type.status_code == 422
    assert any("context" in loc for loc in locs(wrong_type))
    assert not dataset.rows.exists()


def test_an_empty_row_is_422_and_changes_nothing(api, dataset):
    client = api(Role.EDITOR)
    for body in ({}, {"input": "  ", "history": [], "context": {}}):
        empty = client.post(f"/datasets/{dataset.pk}/rows", body)
        assert empty.status_code == 422
        assert empty.json()["detail"] == [{"loc": [], "msg": services.EMPTY_ROW}]
    assert not dataset.rows.exists()
    row = RowFactory(dataset=dataset, input="", output="only this")
    emptied = client.patch(f"/datasets/{dataset.pk}/rows/{row.pk}", {"output": ""})
    assert emptied.status_code == 422
    row.refresh_from_db()
    assert (row.output, row.edited) == ("only this", False)


def test_a_row_of_another_dataset_is_404(api, cast, dataset):
    other = RowFactory(dataset=DatasetFactory(team=cast.team))
    assert api(Role.VIEWER).get(f"/datasets/{dataset.pk}/rows/{other.pk}").status_code == 404


# Imports


def test_importing_picked_sessions_reports_added_and_skipped(api, dataset, chatbot):
    sessions = vip_sessions(chatbot, 2)
    client = api(Role.EDITOR)
    client.post(f"/datasets/{dataset.pk}/import", {"session_ids": [sessions[0].pk]})
    response = client.post(
        f"/datasets/{dataset.pk}/import", {"session_ids": [s.pk for s in sessions]}
    )
    assert response.status_code == 200
    assert response.json() == {"rows_added": 1, "skipped": 1, "sampled_out": 0, "sessions": 2}


def test_importing_by_filter_counts_first_then_imports(api, dataset, chatbot):
    vip_sessions(chatbot, 3)
    SessionFactory(chatbot=chatbot)
    body = {"chatbot": "support", "filter": [{"field": "tags", "op": "any_of", "value": ["vip"]}]}
    client = api(Role.EDITOR)
    count = client.post(f"/datasets/{dataset.pk}/import/count", body).json()
    assert count == {"sessions": 3, "sources": 3, "expected_rows": 3, "background": False}
    assert client.post(f"/datasets/{dataset.pk}/import", body).json()["rows_added"] == 3


def test_an_import_with_a_bad_filter_or_selection_is_422(api, cast, dataset, chatbot):
    theirs = SessionFactory(chatbot=ChatbotFactory(team=cast.other_team))
    client = api(Role.EDITOR)
    path = f"/datasets/{dataset.pk}/import"
    bad_filter = client.post(
        path, {"chatbot": "support", "filter": [{"field": "tags", "op": "gt"}]}
    )
    assert bad_filter.status_code == 422
    assert locs(bad_filter)[0][:3] == ["body", "filter", 0]
    assert client.post(path, {"chatbot": "nope"}).status_code == 422
    assert client.post(path, {}).status_code == 422
    assert client.post(path, {"session_ids": [1], "chatbot": "support"}).status_code == 422
    assert client.post(path, {"chatbot": "support", "sample_rate": 0}).status_code == 422
    foreign = client.post(path, {"session_ids": [theirs.pk]})
    assert foreign.status_code == 422
    assert locs(foreign) == [["body", "session_ids"]]
    assert not dataset.rows.exists()


def test_a_large_import_answers_202_with_a_job_to_poll(
    api, dataset, chatbot, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "LARGE_IMPORT_SOURCES", 1)
    vip_sessions(chatbot, 2)
    client = api(Role.EDITOR)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/datasets/{dataset.pk}/import", {"chatbot": "support"})
    assert response.status_code == 202
    job = response.json()["job"]
    assert (job["status"], job["total"], job["processed"]) == ("pending", 2, 0)
    jobs.run_import_job(job_id=job["id"])
    polled = api(Role.VIEWER).get(f"/datasets/{dataset.pk}/jobs/{job['id']}").json()
    assert (polled["status"], polled["rows_added"]) == ("done", 2)


def locked_after(real):
    """`real`, which does its work and then finds the database busy."""

    def run(*args, **kwargs):
        real(*args, **kwargs)
        raise OperationalError("database is locked")

    return run


def test_an_import_that_finds_the_database_busy_is_503_and_adds_nothing(
    api, dataset, chatbot, monkeypatch
):
    sessions = vip_sessions(chatbot, 2)
    monkeypatch.setattr(services, "add_new_rows", locked_after(services.add_new_rows))
    response = api(Role.EDITOR).post(
        f"/datasets/{dataset.pk}/import", {"session_ids": [s.pk for s in sessions]}
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert not dataset.rows.exists()


# CSV and copies


def test_a_csv_upload_adds_rows_or_answers_422_per_row(api, dataset):
    client = api(Role.EDITOR).client
    path = f"/api/v1/datasets/{dataset.pk}/csv"
    bad = SimpleUploadedFile("rows.csv", b"input,history\nok,[]\nbad,nope\n", "text/csv")
    response = client.post(path, {"file": bad})
    assert response.status_code == 422
    assert locs(response) == [["file", "file", 3, "history"]]
    assert not dataset.rows.exists()
    good = SimpleUploadedFile("rows.csv", b"input,output\nq,a\n", "text/csv")
    assert client.post(path, {"file": good}).json() == {
        "rows_added": 1,
        "rows_updated": 0,
        "rows_unchanged": 0,
    }
    row = dataset.rows.get()
    same = SimpleUploadedFile("rows.csv", f"id,input,output\n{row.pk},q,a\n".encode(), "text/csv")
    assert client.post(path, {"file": same}).json() == {
        "rows_added": 0,
        "rows_updated": 0,
        "rows_unchanged": 1,
    }
    assert not dataset.rows.get().edited


def test_a_csv_upload_that_finds_the_database_busy_is_503_and_writes_nothing(
    api, dataset, monkeypatch
):
    monkeypatch.setattr(csvio, "WRITE_BATCH", 1)
    real, calls = csvio.write_batch, []

    def locked_on_the_second(batch, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("database is locked")
        return real(batch, **kwargs)

    monkeypatch.setattr(csvio, "write_batch", locked_on_the_second)
    upload = SimpleUploadedFile("rows.csv", b"input,output\nq,a\nq2,a2\n", "text/csv")
    response = api(Role.EDITOR).client.post(f"/api/v1/datasets/{dataset.pk}/csv", {"file": upload})
    assert response.status_code == 503
    assert not dataset.rows.exists()


def test_the_csv_download_streams(api, dataset):
    RowFactory(dataset=dataset, input="q1")
    response = api(Role.VIEWER).get(f"/datasets/{dataset.pk}/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "q1" in b"".join(response.streaming_content).decode()


def test_the_csv_download_writes_formulas_as_text(api, dataset):
    RowFactory(dataset=dataset, input="=HYPERLINK(1)", output="@SUM(A1)")
    response = api(Role.VIEWER).get(f"/datasets/{dataset.pk}/csv")
    assert "'=HYPERLINK(1),'@SUM(A1)" in b"".join(response.streaming_content).decode()


def test_rows_are_copied_into_a_dataset_of_the_same_mode(api, cast, dataset):
    target = DatasetFactory(team=cast.team, mode=Mode.MESSAGE)
    rows = RowFactory.create_batch(2, dataset=dataset)
    client = api(Role.EDITOR)
    path = f"/datasets/{dataset.pk}/copy"
    response = client.post(path, {"target": target.pk, "row_ids": [rows[0].pk]})
    assert response.json() == {"rows_added": 1, "skipped": 0}
    assert client.post(path, {"target": target.pk}).json() == {"rows_added": 1, "skipped": 1}
    copy = client.get(f"/datasets/{target.pk}/rows").json()["items"][-1]
    assert copy["copied_from_id"] == rows[0].pk
    session_mode = DatasetFactory(team=cast.team, mode=Mode.SESSION)
    assert client.post(path, {"target": session_mode.pk}).status_code == 422
    theirs = DatasetFactory(team=cast.other_team, mode=Mode.MESSAGE)
    assert client.post(path, {"target": theirs.pk}).status_code == 404
    assert not theirs.rows.exists()


# Tenancy and roles


def endpoints(dataset, row, job):
    base = f"/datasets/{dataset.pk}"
    return {
        "get": [
            (base, None),
            (f"{base}/rows", None),
            (f"{base}/rows/{row.pk}", None),
            (f"{base}/csv", None),
            (f"{base}/jobs/{job.pk}", None),
        ],
        "post": [
            (f"{base}/rows", {"input": "x"}),
            (f"{base}/import", {"session_ids": [1]}),
            (f"{base}/import/count", {"session_ids": [1]}),
            (f"{base}/copy", {"target": dataset.pk}),
        ],
        "patch": [(base, {"name": "x"}), (f"{base}/rows/{row.pk}", {"input": "x"})],
        "delete": [(f"{base}/rows/{row.pk}", None), (base, None)],
    }


def call(client, method, path, body):
    return getattr(client, method)(path) if body is None else getattr(client, method)(path, body)


def test_another_teams_key_gets_404_everywhere(api, cast, dataset):
    row = RowFactory(dataset=dataset, input="kept")
    job = ImportJob.objects.create(dataset=dataset, status=JobStatus.DONE)
    client = api(Role.OWNER, team=cast.other_team)
    for method, calls in endpoints(dataset, row, job).items():
        for path, body in calls:
            assert call(client, method, path, body).status_code == 404, (method, path)
    upload = SimpleUploadedFile("rows.csv", b"input\nx\n", "text/csv")
    response = client.client.post(f"/api/v1/datasets/{dataset.pk}/csv", {"file": upload})
    assert response.status_code == 404
    row.refresh_from_db()
    assert (row.input, dataset.rows.count()) == ("kept", 1)


def test_a_viewer_key_reads_but_cannot_write(api, dataset, chatbot):
    row = RowFactory(dataset=dataset, input="kept")
    job = ImportJob.objects.create(dataset=dataset, status=JobStatus.DONE)
    client = api(Role.VIEWER)
    calls = endpoints(dataset, row, job)
    for path, _ in calls["get"]:
        assert client.get(path).status_code == 200, path
    assert (
        client.post(f"/datasets/{dataset.pk}/import/count", {"chatbot": "support"}).status_code
        == 200
    )
    writes = [
        ("post", "/datasets", {"name": "x", "mode": "message"}),
        *(("post", path, body) for path, body in calls["post"] if "count" not in path),
        *(("patch", path, body) for path, body in calls["patch"]),
        *(("delete", path, body) for path, body in calls["delete"]),
    ]
    for method, path, body in writes:
        assert call(client, method, path, body).status_code == 403, (method, path)
    upload = SimpleUploadedFile("rows.csv", b"input\nx\n", "text/csv")
    response = client.client.post(f"/api/v1/datasets/{dataset.pk}/csv", {"file": upload})
    assert response.status_code == 403
    row.refresh_from_db()
    assert (row.input, dataset.rows.count(), Dataset.objects.count()) == ("kept", 1, 1)
