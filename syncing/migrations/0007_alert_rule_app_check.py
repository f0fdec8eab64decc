"""AlertRule.metric gains "app_check": a rule evaluated by the check a domain app registers
under the rule's key (syncing.monitoring.alerts.register_app_check). Choices only: no SQL."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncing", "0006_webhook_delivery_plural"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alertrule",
            name="metric",
            field=models.CharField(
                choices=[
                    ("slow_sync", "Slowest sync in the window (seconds)"),
                    ("error_rate", "Failed share of attempts in the window (%)"),
                    ("queue_depth", "Messages waiting in a queue"),
                    ("timeouts", "Attempts that timed out in the window"),
                    ("on_time_rate", "On-time rate of a kind and tier (%), alert when below"),
                    (
                        "overdue",
                        "Items due longer ago than the threshold (seconds), not synced",
                    ),
                    ("rate_limited", "Attempts answered with HTTP 429 in the window"),
                    ("app_check", "Checked by the app that added the rule (see its key)"),
                ],
                max_length=32,
            ),
        ),
    ]
