"""Urgency of an alarm's generation: Celery priority and queue (engine hooks of the kind)."""

from __future__ import annotations

from datetime import timedelta

from alarms.services import clock

URGENT_WITHIN = timedelta(minutes=10)
URGENT_PRIORITY = 0
NORMAL_PRIORITY = 5
URGENT_QUEUE = "urgent"
NORMAL_QUEUE = "cpu"


def is_urgent(alarm) -> bool:
    """True when the alarm rings within ten minutes (or its ring is already close/past)."""
    ring = alarm.next_ring_at
    return ring is not None and ring - clock.now() <= URGENT_WITHIN


def alarm_priority(alarm) -> int:
    return URGENT_PRIORITY if is_urgent(alarm) else NORMAL_PRIORITY


def alarm_queue(alarm) -> str:
    return URGENT_QUEUE if is_urgent(alarm) else NORMAL_QUEUE
