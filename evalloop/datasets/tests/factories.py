from __future__ import annotations

import factory

from evalloop.datasets.models import Dataset, Mode, Origin, Row
from evalloop.teams.tests.factories import TeamFactory


class DatasetFactory(factory.django.DjangoModelFactory[Dataset]):
    class Meta:
        model = Dataset

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Dataset {n}")
    mode = Mode.MESSAGE


class RowFactory(factory.django.DjangoModelFactory[Row]):
    class Meta:
        model = Row

    dataset = factory.SubFactory(DatasetFactory)
    input = factory.Faker("sentence")
    output = factory.Faker("sentence")
    origin = Origin.MANUAL
