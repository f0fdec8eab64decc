"""The alarm tier was named "1m" (after its dispatch, every minute) while its interval is a
day: it is "1d" now, key included, and the alarms in it move along. The periodic dispatch
task follows after migrate (syncing.services.tiers.ensure_default_tiers)."""

from django.db import migrations

KIND = "alarms.alarm"


def rename(apps, schema_editor, old="1m", new="1d"):
    Tier = apps.get_model("syncing", "Tier")
    Alarm = apps.get_model("alarms", "Alarm")
    if Tier.objects.filter(kind=KIND, name=new).exists():
        return
    Tier.objects.filter(kind=KIND, key=old).update(key=new)
    Tier.objects.filter(kind=KIND, name=old).update(name=new)
    Alarm.objects.filter(tier=old).update(tier=new)


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old="1d", new="1m")


class Migration(migrations.Migration):
    dependencies = [
        ("alarms", "0001_initial"),
        ("syncing", "0005_tier_key"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
