"""Alarms and the briefings generated ahead of their rings.

An alarm is a ``SyncedItem`` of kind ``alarms.alarm``: its ``next_sync_at`` is the next ring
minus the lead time, and its "sync" writes the briefing (script and audio) for that ring.
``next_ring_at`` is the next time the alarm rings (UTC), kept by the sync function and by
the minute sweep (``alarms.services.deadlines``), which also rolls it on after each ring.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from syncing.models import SyncedItem
from syncing.validation import is_known_zone

# Due "never": inactive alarms and one-offs that rang. Far enough, and valid in every database.
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
MAX_LEAD_MINUTES = 24 * 60
SECTION_NAMES = ("greeting", "date", "calendar", "market", "note")


def validate_timezone(value: str) -> None:
    """A zone of the zone database ("Europe/Berlin"): a folder ("America") or an overlong
    name is refused like an unknown one (ZoneInfo would raise OSError for those)."""
    if not is_known_zone(value):
        raise ValidationError(f"{value[:64]!r} is not a known IANA time zone (e.g. Europe/Berlin).")


def validate_days(value: object) -> None:
    """A list of distinct weekday numbers, 0 = Monday .. 6 = Sunday."""
    if not isinstance(value, list) or not all(
        isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6 for day in value
    ):
        raise ValidationError("Days are weekday numbers from 0 (Monday) to 6 (Sunday).")
    if len(set(value)) != len(value):
        raise ValidationError("Each weekday may appear once.")


class Alarm(SyncedItem):
    """A wake-up alarm at a local time in the owner's zone: repeating on ``days`` or once on
    ``date``."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alarms"
    )
    label = models.CharField(max_length=100, blank=True, default="")
    time = models.TimeField(help_text="Local wall-clock time in the alarm's zone.")
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    days = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_days],
        help_text="Weekdays it repeats on, 0 = Monday; empty for a one-off.",
    )
    date = models.DateField(null=True, blank=True, help_text="A one-off's local date.")
    active = models.BooleanField(default=True)
    voice = models.CharField(max_length=64, blank=True, default="")
    lead_minutes = models.PositiveSmallIntegerField(
        default=58, validators=[MaxValueValidator(MAX_LEAD_MINUTES)]
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"sections": {"calendar": false, ...}, "note": "text"}',
    )
    next_ring_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(SyncedItem.Meta):
        ordering = ["time", "pk"]
        indexes = [
            *SyncedItem.Meta.indexes,
            models.Index(fields=["owner", "time"], name="alarms_alarm_owner"),
        ]

    def __str__(self) -> str:
        return self.label or f"Alarm {self.time:%H:%M} {self.timezone}"

    @property
    def is_one_off(self) -> bool:
        return not self.days

    @property
    def days_display(self) -> str:
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        return ", ".join(names[day] for day in sorted(self.days or []))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def section_enabled(self, name: str) -> bool:
        sections = (self.options or {}).get("sections") or {}
        return bool(sections.get(name, True))

    @property
    def note(self) -> str:
        return str((self.options or {}).get("note") or "").strip()


class BriefingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    LATE = "late", "Late"
    FAILED = "failed", "Failed"
    FALLBACK = "fallback", "Fallback"


class ClipKind(models.TextChoices):
    BRIEFING = "briefing", "Briefing"
    SECTION = "section", "Section (shared for a day)"
    CHIME = "chime", "Chime"


class AudioClip(models.Model):
    """One stored audio file, addressed by the hash of what made it (engine, voice, model,
    format, text): the same script is synthesised once and every briefing that says it
    refers to this row. A clip nothing refers to is deleted (row and file, after commit);
    a section clip is kept until ``keep_until`` even then, to be joined into later
    briefings of the day (``alarms.services.clips``)."""

    key = models.CharField(max_length=64, unique=True, help_text="sha256 of what made it.")
    # The name is random (see services.storage): never a guessable path.
    file = models.FileField(max_length=255)
    kind = models.CharField(max_length=16, choices=ClipKind.choices, default=ClipKind.BRIEFING)
    engine = models.CharField(max_length=32, blank=True, default="")
    characters = models.PositiveIntegerField(default=0, help_text="Length of the text spoken.")
    size = models.PositiveIntegerField(default=0, help_text="Bytes stored.")
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    keep_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "keep_until"], name="alarms_clip_keep")]

    def __str__(self) -> str:
        return f"{self.kind} clip {self.key[:12]} ({self.engine})"


class SpeechSpend(models.Model):
    """What one speech engine was asked to say on one UTC day: the admin's record of the
    daily budget (``alarms.services.budget``; with Redis the counter lives there and this
    row mirrors it)."""

    day = models.DateField()
    engine = models.CharField(max_length=32)
    characters = models.BigIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    fallbacks = models.PositiveIntegerField(
        default=0, help_text="Briefings sent past this engine, near its budget."
    )

    class Meta:
        ordering = ["-day", "engine"]
        constraints = [
            models.UniqueConstraint(fields=["day", "engine"], name="alarms_speech_spend_day")
        ]

    def __str__(self) -> str:
        return f"{self.engine} on {self.day}"


class Briefing(models.Model):
    """The spoken briefing for one ring of one alarm.

    ``ready``: generated before the deadline (one minute before the ring); ``late``:
    generated after it; ``failed``: generation failed (the sweep gives it the fallback at the
    deadline); ``fallback``: the deadline passed without a fresh briefing, so it carries the
    alarm's last good audio or the chime. Only ``ready`` counts as on time.
    """

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="briefings")
    ring_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=BriefingStatus.choices, default=BriefingStatus.PENDING
    )
    script = models.TextField(blank=True, default="")
    # Shared with every briefing that says the same (content-addressed, see AudioClip).
    clip = models.ForeignKey(
        AudioClip, null=True, blank=True, on_delete=models.PROTECT, related_name="briefings"
    )
    engine = models.CharField(max_length=32, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-ring_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["alarm", "ring_at"], name="alarms_briefing_ring")
        ]
        indexes = [
            models.Index(fields=["ring_at", "status"], name="alarms_briefing_ring_status"),
            models.Index(fields=["expires_at"], name="alarms_briefing_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.alarm} at {self.ring_at:%Y-%m-%d %H:%M}Z ({self.status})"

    def save(self, *args, **kwargs) -> None:
        """Save; a clip no longer referred to is released once the transaction commits."""
        super().save(*args, **kwargs)
        before = getattr(self, "_stored_clip_id", None)
        if before and before != self.clip_id:
            _release_clip_on_commit(before)
        self._stored_clip_id = self.clip_id

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_clip_id = instance.__dict__.get("clip_id")
        return instance

    @property
    def has_audio(self) -> bool:
        return self.clip_id is not None

    @property
    def on_time(self) -> bool:
        return self.status == BriefingStatus.READY


def _release_clip_on_commit(clip_id: int) -> None:
    from alarms.services.clips import release_clips

    transaction.on_commit(lambda: release_clips([clip_id]), robust=True)


@receiver(post_delete, sender=Briefing, dispatch_uid="alarms.briefing.audio")
def _briefing_deleted(sender, instance: Briefing, **kwargs) -> None:
    """A briefing's clip is released with it (an alarm's briefings cascade with the alarm,
    so a deleted alarm or owner leaves no unshared file behind), after the deletion commits:
    a rolled-back delete keeps its file. A clip other briefings still say stays."""
    if instance.clip_id:
        _release_clip_on_commit(instance.clip_id)
