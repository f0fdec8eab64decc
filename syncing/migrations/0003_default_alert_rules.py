from django.db import migrations

from syncing.monitoring.defaults import DEFAULT_RULES


def add_rules(apps, schema_editor):
    AlertRule = apps.get_model("syncing", "AlertRule")
    for spec in DEFAULT_RULES:
        AlertRule.objects.get_or_create(key=spec["key"], defaults=spec)


class Migration(migrations.Migration):
    dependencies = [("syncing", "0002_monitoring")]

    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]
