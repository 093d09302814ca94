"""Bring stored times into the accepted range (see evalloop/lib/moments.py).

Before times were checked where they come in, a time such as 9999-12-31T23:00:00-05:00
(year 10000 in UTC) could be stored, and every page reading it then failed.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from evalloop.lib.moments import clamp_stored_times


def clamp(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    for model in apps.get_app_config("datasets").get_models():
        for field in model._meta.concrete_fields:
            if field.get_internal_type() == "DateTimeField":
                clamp_stored_times(schema_editor.connection, model._meta.db_table, field.column)


class Migration(migrations.Migration):
    dependencies = [
        ("datasets", "0002_row_dataset_index"),
    ]

    operations = [
        migrations.RunPython(clamp, migrations.RunPython.noop, elidable=True),
    ]
