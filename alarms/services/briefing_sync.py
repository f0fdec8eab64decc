"""The sync function of kind ``alarms.alarm``: generate the briefing for the next ring.

The engine calls ``sync_alarm`` when the alarm is due (its next ring minus the lead). It
writes the script and the audio of that ring's briefing and returns, as
``SyncResult.next_sync_at``, the following ring minus the lead, so the engine schedules
alarms by their rings rather than by the tier's interval.

- Called early (staff "sync now", a resume), it only reschedules: briefings are fresh.
- Called past the deadline (one minute before the ring), it does not start: the ring gets
  the fallback (``deadlines.apply_fallback``) and the alarm moves on to its next ring.
- Synthesis errors are recorded on the briefing (status ``failed``) and raised, so the
  engine retries with backoff; the minute sweep gives the fallback if time runs out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from alarms.models import FAR_FUTURE, Alarm, Briefing, BriefingStatus
from alarms.services import clock, storage
from alarms.services.clips import lock_clip
from alarms.services.deadlines import FINAL_STATUSES, apply_fallback, deadline_for
from alarms.services.schedule import next_ring
from alarms.services.script import Script, compose_script
from alarms.services.speech import Produced, produce_audio
from alarms.services.tts.registry import get_engine
from syncing.results import SyncContext, SyncError, SyncResult
from syncing.webhooks.services import emit

logger = logging.getLogger(__name__)

# How early before its due time a run still generates (dispatch runs every minute).
EARLY_TOLERANCE = timedelta(minutes=5)


def _lead(alarm: Alarm) -> timedelta:
    return timedelta(minutes=alarm.lead_minutes)


def _next_due_after(alarm: Alarm, ring_at: datetime, now: datetime) -> datetime:
    """When to generate next: for the ring after ``ring_at`` (or, if the rules changed so
    that ``ring_at`` is no longer the next ring, for the new next ring)."""
    if not alarm.active:
        return FAR_FUTURE
    current = next_ring(alarm, now)
    if current is not None and current != ring_at:
        return max(current - _lead(alarm), now)
    following = next_ring(alarm, ring_at)
    return following - _lead(alarm) if following is not None else FAR_FUTURE


def _remember_ring(alarm: Alarm, ring_at: datetime) -> None:
    if alarm.next_ring_at != ring_at:
        Alarm.objects.filter(pk=alarm.pk).update(next_ring_at=ring_at)
        alarm.next_ring_at = ring_at


def _record_failure(briefing_pk: int, text: str, exc: SyncError) -> None:
    Briefing.objects.filter(
        pk=briefing_pk, status__in=[BriefingStatus.PENDING, BriefingStatus.FAILED]
    ).update(
        status=BriefingStatus.FAILED,
        error=f"{exc.reason}: {exc.message}"[:500],
        script=text,
        engine=get_engine().name,
    )


def _write_briefing(alarm: Alarm, briefing_pk: int, ring: datetime, text: str, produced: Produced):
    """Attach the clip and finish the briefing: (status, finished, next due), or None when
    the clip was released by another briefing at this very moment (make it again)."""
    finished = clock.now()
    status = BriefingStatus.READY if finished < deadline_for(ring) else BriefingStatus.LATE
    with transaction.atomic():
        # The clip's row lock: it cannot be released before this briefing refers to it.
        if not lock_clip(produced.clip):
            return None
        # Saving over an older clip (a fallback) releases that clip after commit.
        locked = Briefing.objects.select_for_update().get(pk=briefing_pk)
        locked.status = status
        locked.script = text
        locked.clip = produced.clip
        locked.engine = produced.engine[:32]
        locked.duration_ms = produced.clip.duration_ms
        locked.generated_at = finished
        locked.expires_at = finished + storage.audio_ttl()
        locked.save()
        # Re-read the rules under a lock: an edit made during generation decides what's next.
        fresh = Alarm.objects.select_for_update().get(pk=alarm.pk)
        next_due = _next_due_after(fresh, ring, finished)
        emit(
            alarm.owner_id,
            "briefing.ready",
            {
                "alarm": alarm.pk,
                "briefing": locked.pk,
                "ring_at": ring.isoformat().replace("+00:00", "Z"),
                "status": status,
            },
        )
    return status, finished, next_due


def sync_alarm(alarm: Alarm, ctx: SyncContext) -> SyncResult:
    """Generate the briefing of the alarm's next ring. Raises SyncError subclasses from the
    speech engine (transient: backoff and retry; permanent: misconfiguration)."""
    now = clock.now()
    ring, skipped = _ring_to_prepare(alarm, now)
    if skipped is not None:
        return skipped
    briefing, _ = Briefing.objects.get_or_create(alarm=alarm, ring_at=ring)
    if briefing.status in FINAL_STATUSES and briefing.status != BriefingStatus.FALLBACK:
        return SyncResult(
            outcome="skipped",
            reason="already_generated",
            next_sync_at=_next_due_after(alarm, ring, now),
        )
    script = compose_script(alarm, ring)
    produced, (status, finished, next_due) = _produce_and_write(alarm, briefing, ring, script)
    if status == BriefingStatus.LATE:
        logger.warning(
            "alarm #%s: briefing for %s finished after its deadline", alarm.pk, ring.isoformat()
        )
    return _result(produced, script, status, ring, finished, next_due)


def _ring_to_prepare(alarm: Alarm, now: datetime) -> tuple[datetime | None, SyncResult | None]:
    """(the ring to generate for, None), or (None or the ring, the skip result) when this run
    generates nothing: inactive, no next ring, called early, or past the deadline (the ring
    gets the fallback)."""
    if not alarm.active:
        return None, SyncResult(outcome="skipped", reason="inactive", next_sync_at=FAR_FUTURE)
    ring = next_ring(alarm, now)
    if ring is None:
        return None, SyncResult(outcome="skipped", reason="no_next_ring", next_sync_at=FAR_FUTURE)
    _remember_ring(alarm, ring)
    due = ring - _lead(alarm)
    if due > now + EARLY_TOLERANCE:
        return ring, SyncResult(outcome="skipped", reason="not_due", next_sync_at=due)
    if now >= deadline_for(ring):
        apply_fallback(alarm, ring, now=now, error="generation would start after the deadline")
        return ring, SyncResult(
            outcome="skipped",
            reason="past_deadline",
            message="fallback given: generation would start after the deadline",
            next_sync_at=_next_due_after(alarm, ring, now),
        )
    return ring, None


def _produce_and_write(alarm: Alarm, briefing: Briefing, ring: datetime, script: Script):
    """Synthesise the script and attach the clip: (produced, (status, finished, next due)).
    A clip released by another briefing meanwhile is made again, three times at most."""
    for _ in range(3):
        try:
            produced = produce_audio(script.text, script.parts, alarm.voice, clock.now())
        except SyncError as exc:
            _record_failure(briefing.pk, script.text, exc)
            raise
        written = _write_briefing(alarm, briefing.pk, ring, script.text, produced)
        if written is not None:
            return produced, written
    raise SyncError("clip_released", "the shared clip was released three times in a row")


def _result(
    produced: Produced,
    script: Script,
    status: str,
    ring: datetime,
    finished: datetime,
    next_due: datetime,
) -> SyncResult:
    return SyncResult(
        outcome="ok",
        message=f"{status} via {produced.engine}, {produced.clip.duration_ms} ms of audio"
        + (f" ({', '.join(produced.fallbacks)} near budget)" if produced.fallbacks else ""),
        bytes=produced.clip.size if produced.calls else 0,
        items_changed=1,
        retries=produced.retries,
        counts={
            "duration_ms": produced.clip.duration_ms,
            "speech_calls": produced.calls,
            "speech_characters": produced.characters,
            "sections": len(script.used),
            "sections_failed": len(script.failed),
            "late": int(status == BriefingStatus.LATE),
            "seconds_before_ring": int((ring - finished).total_seconds()),
        },
        next_sync_at=next_due,
    )
