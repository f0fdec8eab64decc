"""Models for watching the engine: hourly attempt rollups, alert rules and alerts, and the
owners' manual-sync uses (the webhooks' models are in syncing/webhooks/models.py).

Imported by syncing/models.py, so every model here belongs to the ``syncing`` app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = [
    "Alert",
    "AlertRule",
    "AttemptRollup",
    "ManualSyncUse",
]


class AttemptRollup(models.Model):
    """The attempts of one hour for one (kind, tier, outcome, reason), aggregated.

    ``duration_buckets`` holds counts per fixed duration bucket (bounds in
    ``syncing.monitoring.stats.BUCKET_BOUNDS_MS``), so percentiles over any set of rollups
    are approximated by merging the counts and interpolating inside the bucket.
    """

    hour = models.DateTimeField()
    kind = models.CharField(max_length=64)
    tier = models.CharField(max_length=32, blank=True, default="")
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=64, blank=True, default="")
    count = models.PositiveIntegerField(default=0)
    duration_sum_ms = models.BigIntegerField(default=0)
    duration_max_ms = models.PositiveIntegerField(default=0)
    duration_buckets = models.JSONField(default=list)
    bytes = models.BigIntegerField(default=0)
    items_changed = models.BigIntegerField(default=0)
    retries = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "kind", "tier", "outcome", "reason"], name="rollup_key"
            )
        ]
        indexes = [models.Index(fields=["hour"], name="rollup_hour")]
        ordering = ["-hour"]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.kind}/{self.tier} {self.outcome}: {self.count}"


class AlertRule(models.Model):
    """A condition staff want to hear about; defaults come from a data migration."""

    class Metric(models.TextChoices):
        SLOW_SYNC = "slow_sync", "Slowest sync in the window (seconds)"
        ERROR_RATE = "error_rate", "Failed share of attempts in the window (%)"
        QUEUE_DEPTH = "queue_depth", "Messages waiting in a queue"
        TIMEOUTS = "timeouts", "Attempts that timed out in the window"
        ON_TIME_RATE = "on_time_rate", "On-time rate of a kind and tier (%), alert when below"
        OVERDUE = "overdue", "Items due longer ago than the threshold (seconds), not synced"
        RATE_LIMITED = "rate_limited", "Attempts answered with HTTP 429 in the window"
        APP_CHECK = "app_check", "Checked by the app that added the rule (see its key)"

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    threshold = models.FloatField()
    window = models.DurationField(
        null=True, blank=True, help_text="Look-back for attempt-based rules (e.g. 0:15:00)."
    )
    kind = models.CharField(
        max_length=64, blank=True, default="", help_text="Only this kind; empty: every kind."
    )
    min_attempts = models.PositiveIntegerField(
        default=20, help_text="Rate rules stay quiet below this many attempts in the window."
    )
    enabled = models.BooleanField(default=True)
    notify_email = models.BooleanField(default=True, help_text="Email every staff member.")
    webhook_url = models.URLField(blank=True, default="", help_text="Also POST the alert here.")

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One firing of a rule for one subject (a kind/tier, a queue); resolves by itself."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    subject = models.CharField(max_length=128)
    message = models.CharField(max_length=500)
    value = models.FloatField(null=True, blank=True)
    opened_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_one_open_per_subject",
            )
        ]
        indexes = [models.Index(fields=["resolved_at", "-opened_at"], name="alert_open")]
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"{self.rule.key} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ManualSyncUse(models.Model):
    """One manual ("sync now") request an owner made, counted against the plan's allowance
    over a sliding hour when there is no Redis (``syncing.allowances``). Rows older than
    the window are deleted as the owner makes new requests."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="manual_sync_use_user_at")]

    def __str__(self) -> str:
        return f"manual sync by #{self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"
