"""Deadlines: a briefing not ready one minute before its ring gets the fallback.

The fallback is the alarm's last good audio (ready or late; the same shared clip, not a
copy), else the chime (one clip for all); the
briefing's status becomes ``fallback`` and it counts against the on-time rate. Two paths
apply it: the sync function, which refuses to start generating past the deadline, and the
minute sweep (``sweep``, run by the ``alarms.sweep_deadlines`` task), which also rolls each
alarm's ``next_ring_at`` on once it has rung and retires one-off alarms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from alarms.models import FAR_FUTURE, Alarm, AudioClip, Briefing, BriefingStatus
from alarms.services import storage
from alarms.services.clips import chime_clip, lock_clip
from alarms.services.schedule import next_ring

logger = logging.getLogger(__name__)

DEADLINE_BEFORE_RING = timedelta(minutes=1)
# Statuses that end a briefing: nothing more is generated or substituted for them.
FINAL_STATUSES = (BriefingStatus.READY, BriefingStatus.LATE, BriefingStatus.FALLBACK)
SWEEP_LIMIT = 20_000


def deadline_for(ring_at: datetime) -> datetime:
    return ring_at - DEADLINE_BEFORE_RING


def last_good_briefing(alarm: Alarm, before: datetime) -> Briefing | None:
    return (
        Briefing.objects.filter(
            alarm=alarm,
            ring_at__lt=before,
            status__in=[BriefingStatus.READY, BriefingStatus.LATE],
        )
        .filter(clip__isnull=False)
        .select_related("clip")
        .order_by("-ring_at")
        .first()
    )


def _fallback_audio(alarm: Alarm, ring_at: datetime) -> tuple[AudioClip, str, str, int]:
    """(clip, engine, script, duration_ms) of the fallback for this ring."""
    source = last_good_briefing(alarm, ring_at)
    if source is not None:
        return source.clip, f"fallback/{source.engine}"[:32], source.script, source.duration_ms
    chime = chime_clip()
    return chime, "tone", "", chime.duration_ms


def apply_fallback(alarm: Alarm, ring_at: datetime, *, now: datetime, error: str = "") -> Briefing:
    """Give the briefing of (alarm, ring_at) the fallback audio, unless it already has a
    final status. Returns the briefing (created if missing). Raises OSError on storage
    trouble."""
    existing = Briefing.objects.filter(alarm=alarm, ring_at=ring_at).first()
    if existing is not None and existing.status in FINAL_STATUSES:
        return existing
    for _ in range(3):
        clip, engine, script, duration = _fallback_audio(alarm, ring_at)  # no lock held
        with transaction.atomic():
            if not lock_clip(clip):  # released meanwhile: look again
                continue
            briefing, _ = Briefing.objects.select_for_update().get_or_create(
                alarm=alarm, ring_at=ring_at
            )
            if briefing.status in FINAL_STATUSES:  # generated meanwhile: keep it
                return briefing
            briefing.status = BriefingStatus.FALLBACK
            briefing.clip = clip
            briefing.engine = engine
            briefing.script = script
            briefing.duration_ms = duration
            briefing.generated_at = timezone.now()
            briefing.expires_at = briefing.generated_at + storage.audio_ttl()
            if error and not briefing.error:
                briefing.error = error[:500]
            briefing.save()
            break
    logger.info(
        "alarm #%s: fallback (%s) for the ring at %s", alarm.pk, engine, ring_at.isoformat()
    )
    return briefing


@dataclass
class SweepReport:
    fallbacks: int = 0
    rolled: int = 0
    retired: int = 0


def sweep(now: datetime) -> SweepReport:
    """Apply the fallback to every ring whose deadline passed without a final briefing,
    then roll rung alarms to their next ring (one-offs are retired: inactive, never due)."""
    report = SweepReport()
    alarms = list(
        Alarm.objects.filter(active=True, next_ring_at__lte=now + DEADLINE_BEFORE_RING)
        .select_related("owner")
        .order_by("next_ring_at")[:SWEEP_LIMIT]
    )
    if not alarms:
        return report
    finals = set(
        Briefing.objects.filter(
            alarm_id__in=[a.pk for a in alarms],
            ring_at__gte=min(a.next_ring_at for a in alarms),
            status__in=FINAL_STATUSES,
        ).values_list("alarm_id", "ring_at")
    )
    for alarm in alarms:
        ring = alarm.next_ring_at
        if now >= deadline_for(ring) and (alarm.pk, ring) not in finals:
            apply_fallback(alarm, ring, now=now, error="not ready one minute before the ring")
            report.fallbacks += 1
        if ring <= now:
            following = next_ring(alarm, now)
            if following is None:
                changed = Alarm.objects.filter(pk=alarm.pk, next_ring_at=ring).update(
                    active=False, next_ring_at=None, next_sync_at=FAR_FUTURE
                )
                report.retired += changed
            else:
                changed = Alarm.objects.filter(pk=alarm.pk, next_ring_at=ring).update(
                    next_ring_at=following
                )
                report.rolled += changed
    if report.fallbacks:
        logger.warning("deadline sweep: %d briefing(s) got the fallback", report.fallbacks)
    return report
