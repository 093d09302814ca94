from django.db import migrations


def create_flags(apps, schema_editor):
    Flag = apps.get_model("teams", "Flag")
    Flag.objects.get_or_create(
        name="auto_populate_datasets",
        defaults={"note": "Auto-population rules; switched per team in Settings > Features."},
    )


class Migration(migrations.Migration):
    dependencies = [("teams", "0001_initial")]
    operations = [migrations.RunPython(create_flags, migrations.RunPython.noop)]
