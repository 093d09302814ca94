"""Dataset times stored out of range are brought into it, and the dataset pages read again."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from evalloop.chat.tests.test_clamp_migration import EARLY, LATE, poison
from evalloop.datasets.models import Dataset, Row
from evalloop.datasets.tests.factories import RowFactory
from evalloop.lib.moments import EARLIEST, LATEST
from evalloop.teams.permissions import Role

# Migrating needs a connection outside the test's transaction on SQLite.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_migration_clamps_row_and_dataset_times_and_the_pages_render(cast, api, dataset):
    row = RowFactory(dataset=dataset)
    late, early = LATE[connection.vendor], EARLY[connection.vendor]
    poison(Row, row.pk, created_at=early, edited_at=late)
    poison(Dataset, dataset.pk, created_at=late)
    client = Client(raise_request_exception=False)
    client.force_login(cast.viewer)
    url = reverse("datasets:dataset-detail", kwargs={"pk": dataset.pk})
    assert client.get(url).status_code >= 400

    call_command("migrate", "datasets", "0002", verbosity=0)
    # every app: going back also undid the apps that build on datasets (runs)
    call_command("migrate", verbosity=0)

    assert client.get(url).status_code == 200
    assert api(Role.VIEWER).get(f"/datasets/{dataset.pk}/rows").status_code == 200
    row.refresh_from_db()
    dataset.refresh_from_db()
    assert (row.created_at, row.edited_at, dataset.created_at) == (EARLIEST, LATEST, LATEST)
