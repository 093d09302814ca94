from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [
        ("autopopulate", "0003_tick_sweep"),
    ]

    operations = [
        migrations.AlterField(
            model_name="entry",
            name="rule",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="entries",
                to="autopopulate.rule",
            ),
        ),
    ]
