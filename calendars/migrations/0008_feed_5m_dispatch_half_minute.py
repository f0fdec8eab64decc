"""The feeds' 5-minute tier dispatches every 30 seconds (calendars.kinds.FEED_TIERS): existing
rows still at the former minute move too (a staff edit to anything else is left alone). The
beat entry follows after migrate (ensure_default_tiers brings every periodic task in step)."""

from datetime import timedelta

from django.db import migrations

FEED_KIND = "calendars.feed"


def forwards(apps, schema_editor):
    Tier = apps.get_model("syncing", "Tier")
    Tier.objects.filter(kind=FEED_KIND, key="5m", dispatch_every=timedelta(minutes=1)).update(
        dispatch_every=timedelta(seconds=30)
    )


def backwards(apps, schema_editor):
    Tier = apps.get_model("syncing", "Tier")
    Tier.objects.filter(kind=FEED_KIND, key="5m", dispatch_every=timedelta(seconds=30)).update(
        dispatch_every=timedelta(minutes=1)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0007_archived_event"),
        ("syncing", "0011_tier_adaptive_calibration"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
