"""The default alert rules as they were when this migration was written: frozen here, so
later edits of the live defaults (syncing.monitoring.defaults, the domains' kinds.py) never
change what this migration does."""

from datetime import timedelta

from django.db import migrations

DEFAULT_RULES = [
    {
        "key": "slow-sync",
        "name": "A sync slower than 45 s",
        "metric": "slow_sync",
        "threshold": 45.0,
        "window": timedelta(minutes=15),
    },
    {
        "key": "error-rate",
        "name": "Error rate above 5% over 15 minutes",
        "metric": "error_rate",
        "threshold": 5.0,
        "window": timedelta(minutes=15),
    },
    {
        "key": "queue-depth",
        "name": "A queue deeper than 1,000 messages",
        "metric": "queue_depth",
        "threshold": 1000.0,
        "window": None,
    },
    {
        "key": "timeouts",
        "name": "Any timeout",
        "metric": "timeouts",
        "threshold": 0.0,
        "window": timedelta(minutes=15),
    },
    {
        "key": "on-time-rate",
        "name": "On-time rate under 99%",
        "metric": "on_time_rate",
        "threshold": 99.0,
        "window": None,
    },
    {
        "key": "briefing-late",
        "name": "A briefing not ready in time",
        "metric": "overdue",
        "threshold": 60.0,
        "window": None,
        "kind": "alarms.alarm",
    },
    {
        "key": "provider-429",
        "name": "A provider answering 429 repeatedly",
        "metric": "rate_limited",
        "threshold": 5.0,
        "window": timedelta(minutes=15),
    },
]


def add_rules(apps, schema_editor):
    AlertRule = apps.get_model("syncing", "AlertRule")
    for spec in DEFAULT_RULES:
        AlertRule.objects.get_or_create(key=spec["key"], defaults=spec)


class Migration(migrations.Migration):
    dependencies = [("syncing", "0002_monitoring")]

    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]
