"""The engine's data: plans, tiers, the abstract synced item, and attempts."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


class Plan(models.TextChoices):
    FREE = "free", "Free"
    STARTER = "starter", "Starter"
    PRO = "pro", "Pro"
    BUSINESS = "business", "Business"
    REALTIME = "realtime", "Realtime"


class Account(models.Model):
    """An owner's plan. One per user; created on demand with the free plan."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sync_account"
    )
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.plan})"


class Tier(models.Model):
    """How often the items of one kind in this tier sync, and how many per dispatch run.

    Each enabled tier with an interval has exactly one django-celery-beat PeriodicTask,
    kept in step by ``syncing.services.beat`` whenever the row changes.
    """

    kind = models.CharField(max_length=64)
    name = models.CharField(max_length=32)
    # The tier's stable identity: its first name, never changed. Code names tiers by key
    # (a kind's default tier and plan tiers); items carry the current name, moved along on
    # rename (syncing.services.tiers.tier_changed).
    key = models.CharField(max_length=32, editable=False, default="")
    interval = models.DurationField(
        null=True, blank=True, help_text="Empty: on demand only (no periodic dispatch)."
    )
    batch_limit = models.PositiveIntegerField(
        default=1000, help_text="At most this many items are claimed per dispatch run."
    )
    dispatch_every = models.DurationField(
        null=True,
        blank=True,
        help_text="How often dispatch runs for this tier. Empty: a sensible fraction of the "
        "interval (at most every minute, at least every 15 minutes).",
    )
    enabled = models.BooleanField(default=True)
    # Adaptive polling's online calibration of this tier (syncing.adaptive.calibrate): the
    # p95 rule's threshold as moved so far (empty: the kind's policy's own), the decayed
    # totals of the late evidence that moved it (changes seen, and those seen later than
    # the target), and when it last moved. Chunk finishes add to the totals (one UPDATE per
    # tier per flush, not per item); the tier's dispatch runs decay them and move the
    # threshold (syncing.services.schedule.calibrate_tier).
    adaptive_threshold = models.FloatField(null=True, blank=True, editable=False)
    adaptive_late = models.FloatField(default=0.0, editable=False)
    adaptive_changes = models.FloatField(default=0.0, editable=False)
    adaptive_calibrated_at = models.DateTimeField(null=True, blank=True, editable=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="tier_kind_name")]
        ordering = ["kind", "interval"]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    def save(self, *args, **kwargs) -> None:
        """Save; a tier named after its interval follows a new interval (15m becomes 30m);
        a rename moves the tier's items, and a shorter interval brings their next due times
        in (keeping their spread), in the same transaction. The periodic task follows
        through the post_save signal (syncing.services.beat)."""
        from syncing.services.tiers import name_after_change, tier_changed

        if not self.key:
            self.key = self.name
        with transaction.atomic():
            before = None
            if self.pk is not None:
                before = Tier.objects.select_for_update().filter(pk=self.pk).first()
            if before is not None:
                self.name = name_after_change(before, self)
            super().save(*args, **kwargs)
            if before is not None:
                tier_changed(before, self)

    @property
    def dispatch_period(self) -> timedelta | None:
        """How often beat runs dispatch for this tier."""
        if not self.enabled or self.interval is None:
            return None
        if self.dispatch_every:
            return self.dispatch_every
        # A tenth of the interval keeps items within ~10% of their due time, between
        # once a minute and once every 15 minutes.
        tenth = self.interval / 10
        return max(timedelta(minutes=1), min(timedelta(minutes=15), tenth))


class SyncedItem(models.Model):
    """Scheduling fields shared by everything the engine syncs (abstract).

    ``next_sync_at`` is when the item is next due; the pair (tier, next_sync_at) is
    indexed so that claiming due items costs O(batch) whatever the table's size.
    """

    tier = models.CharField(max_length=32, db_index=False)
    next_sync_at = models.DateTimeField(default=timezone.now)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    paused = models.BooleanField(default=False)
    pause_reason = models.CharField(max_length=500, blank=True, default="")
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    # Validators for conditional fetches, and the hash of the last body parsed.
    etag = models.CharField(max_length=256, blank=True, default="")
    last_modified = models.CharField(max_length=64, blank=True, default="")
    content_hash = models.CharField(max_length=64, blank=True, default="")
    # Adaptive polling (syncing.adaptive), for kinds that opt in: the decayed sums of the
    # item's checks, its estimated changes per hour, and the interval it was given last.
    change_stats = models.JSONField(null=True, blank=True, editable=False)
    change_rate = models.FloatField(
        null=True, blank=True, editable=False, help_text="Estimated changes per hour."
    )
    effective_interval = models.DurationField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        # Every kind's due index, named per model (calendars_feed_due, market_product_due...).
        # A concrete model with its own Meta subclasses ``SyncedItem.Meta`` and lists
        # ``*SyncedItem.Meta.indexes`` before its own indexes.
        indexes = [
            models.Index(
                fields=["tier", "next_sync_at"],
                name="%(app_label)s_%(class)s_due",
                condition=models.Q(paused=False),
            )
        ]

    @property
    def polling_words(self) -> str:
        """Adaptive polling in words for owners and staff: "Checked every 4 hours: about 2
        changes a day" ("" on the tier's fixed interval)."""
        from syncing.humane import polling_words

        interval = self.effective_interval
        return polling_words(self.change_rate, interval.total_seconds() if interval else None)

    @property
    def sync_state(self) -> str:
        """A one-word summary for pages: paused, failing, syncing, ok or new."""
        if self.paused:
            return "paused"
        if self.consecutive_failures:
            return "failing"
        if self.leased_until and self.leased_until > timezone.now():
            return "syncing"
        if self.last_success_at:
            return "ok"
        return "new"


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    NOT_MODIFIED = "not_modified", "Not modified"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class SyncAttempt(models.Model):
    """One run of one item's sync: what happened, how long it took, why it failed."""

    kind = models.CharField(max_length=64)
    item_id = models.BigIntegerField()
    tier = models.CharField(max_length=32, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # attempt_owner (owner, -started_at) leads with it
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    message = models.CharField(max_length=500, blank=True, default="")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    bytes = models.PositiveIntegerField(default=0)
    items_changed = models.PositiveIntegerField(default=0)
    retries = models.PositiveSmallIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "item_id", "-started_at"], name="attempt_item"),
            models.Index(fields=["started_at"], name="attempt_started"),
            models.Index(fields=["owner", "-started_at"], name="attempt_owner"),
        ]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind}#{self.item_id} {self.outcome} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class ChunkRun(models.Model):
    """One message's run (a chunk of claimed items) as the worker slot saw it: its whole
    wall time and CPU, the engine's work around the sync functions included (taking the
    leases, loading the items, the flushes), and the slot's time since its previous chunk
    (``between_*``: the task framework's own per-message work, or idle: when ``queue_ms``
    is longer, the message was already waiting, so the gap was all overhead); ``cpu_wait_ms`` is
    the part of the wall time the slot was runnable but waiting for a CPU (Linux schedstat:
    what a loaded box adds), ``load`` the host's load then. ``capacity`` reads
    these (syncing.monitoring.capacity); written by services.runs, one row per chunk,
    pruned with the attempts."""

    kind = models.CharField(max_length=64)
    tier = models.CharField(max_length=32, blank=True, default="")
    worker = models.CharField(max_length=128, blank=True, default="")  # host:pid
    started_at = models.DateTimeField()
    claimed = models.PositiveIntegerField(default=0)  # items in the message
    items = models.PositiveIntegerField(default=0)  # items run (an attempt each)
    wall_ms = models.FloatField(default=0.0)
    cpu_ms = models.FloatField(default=0.0)  # the slot thread's CPU
    cpu_wait_ms = models.FloatField(null=True, blank=True)  # runnable, waiting for a CPU
    queue_ms = models.FloatField(null=True, blank=True)  # from the message's publish to start
    between_ms = models.FloatField(null=True, blank=True)  # since the slot's previous chunk
    between_cpu_ms = models.FloatField(null=True, blank=True)
    load = models.FloatField(null=True, blank=True)  # the host's 1-minute load average

    class Meta:
        indexes = [
            models.Index(fields=["kind", "started_at"], name="chunkrun_kind"),
            models.Index(fields=["started_at"], name="chunkrun_started"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} chunk of {self.items} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Probe(SyncedItem):
    """The engine's own canary: a synced item whose sync does no I/O.

    Staff create a probe per tier to watch the whole path (beat, dispatch, broker, worker,
    database) end to end; ``mode`` makes it fail on purpose to check backoff and alerts.
    Benchmarks and tests use probes as the no-op kind.
    """

    class Mode(models.TextChoices):
        OK = "ok", "Succeed"
        TRANSIENT = "transient", "Fail (transient)"
        PERMANENT = "permanent", "Fail (permanent)"
        SLOW = "slow", "Succeed slowly"

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.OK)
    sleep_ms = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0, editable=False)

    def __str__(self) -> str:
        return self.name


# Models kept in their own modules, all of the syncing app (imported here so Django loads them).
from syncing.monitoring.models import (  # noqa: E402
    Alert,
    AlertRule,
    AttemptRollup,
    ManualSyncUse,
)
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: E402

__all__ = [
    "Account",
    "Alert",
    "AlertRule",
    "AttemptRollup",
    "ManualSyncUse",
    "Outcome",
    "Plan",
    "Probe",
    "SyncAttempt",
    "SyncedItem",
    "Tier",
    "WebhookDelivery",
    "WebhookEndpoint",
]
