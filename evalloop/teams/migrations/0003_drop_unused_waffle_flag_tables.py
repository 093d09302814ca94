from django.db import migrations

# django-waffle's first migration creates its default flag tables even when the flag model is
# swapped (WAFFLE_FLAG_MODEL = "teams.Flag"). Nothing uses them, and on PostgreSQL their
# foreign key to auth_group makes a flush (TRUNCATE of the known tables) fail.


def drop_unused_tables(apps, schema_editor):
    tables = schema_editor.connection.introspection.table_names()
    for table in ("waffle_flag_groups", "waffle_flag_users", "waffle_flag"):
        if table in tables:
            schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(table)}")


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0002_team_flags"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]
    operations = [migrations.RunPython(drop_unused_tables, migrations.RunPython.noop)]
