"""Thin Celery entry points: the deadline sweep (every minute) and audio expiry."""

from __future__ import annotations

from celery import shared_task

from alarms.services import clock
from alarms.services.deadlines import sweep
from alarms.services.storage import expire_audio


@shared_task(name="alarms.sweep_deadlines", acks_late=True, ignore_result=True, expires=55)
def sweep_deadlines() -> dict:
    """Fallback for briefings not ready a minute before their ring; roll rung alarms."""
    report = sweep(clock.now())
    return {"fallbacks": report.fallbacks, "rolled": report.rolled, "retired": report.retired}


@shared_task(name="alarms.expire_audio", acks_late=True, ignore_result=True, expires=3000)
def expire_briefing_audio() -> int:
    """Delete briefing audio older than ALARMS_AUDIO_TTL_HOURS (48 h)."""
    return expire_audio(clock.now())
