"""Bring stored times into the accepted range (see evalloop/lib/moments.py).

Before times were checked where they come in, a time such as 9999-12-31T23:00:00-05:00
(year 10000 in UTC) could be stored, and every page reading it then failed.
"""

from django.db import migrations

from evalloop.lib.moments import clamp_app_times


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(clamp_app_times("chat"), migrations.RunPython.noop, elidable=True),
    ]
