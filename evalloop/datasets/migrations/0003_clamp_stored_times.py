"""Bring stored times into the accepted range (see evalloop/lib/moments.py).

Before times were checked where they come in, a time such as 9999-12-31T23:00:00-05:00
(year 10000 in UTC) could be stored, and every page reading it then failed.
"""

from django.db import migrations

from evalloop.lib.moments import clamp_app_times


class Migration(migrations.Migration):
    dependencies = [
        ("datasets", "0002_row_dataset_index"),
    ]

    operations = [
        migrations.RunPython(clamp_app_times("datasets"), migrations.RunPython.noop, elidable=True),
    ]
