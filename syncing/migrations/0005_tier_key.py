from django.db import migrations, models


def keys_from_names(apps, schema_editor):
    Tier = apps.get_model("syncing", "Tier")
    Tier.objects.filter(key="").update(key=models.F("name"))


class Migration(migrations.Migration):
    dependencies = [
        ("syncing", "0004_manual_sync_use"),
    ]

    operations = [
        migrations.AddField(
            model_name="tier",
            name="key",
            field=models.CharField(default="", editable=False, max_length=32),
        ),
        migrations.RunPython(keys_from_names, migrations.RunPython.noop),
    ]
