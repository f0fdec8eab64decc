"""Feed tiers dispatch every minute (calendars.apps): existing tiers left at the default
period (a tenth of the interval, up to 15 minutes) follow; a period staff set is kept. The
periodic tasks follow after migrate (syncing.services.tiers.ensure_default_tiers)."""

from datetime import timedelta

from django.db import migrations


def every_minute(apps, schema_editor):
    Tier = apps.get_model("syncing", "Tier")
    Tier.objects.filter(kind="calendars.feed", dispatch_every__isnull=True).update(
        dispatch_every=timedelta(minutes=1)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0004_adaptive_polling"),
        ("syncing", "0008_adaptive_polling"),
    ]

    operations = [migrations.RunPython(every_minute, migrations.RunPython.noop)]
