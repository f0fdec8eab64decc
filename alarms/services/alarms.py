"""Writes on alarms: create, update, and (re)schedule after any change to their rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from alarms.models import FAR_FUTURE, Alarm
from alarms.services import clock
from alarms.services.schedule import next_ring
from syncing.plans import allowance_for, tier_for

KIND = "alarms.alarm"
EDITABLE_FIELDS = (
    "label",
    "time",
    "timezone",
    "days",
    "date",
    "active",
    "voice",
    "lead_minutes",
    "options",
)


class AlarmLimitReached(Exception):
    """The owner's plan allows no more alarms."""


def schedule_fields(alarm: Alarm, now: datetime) -> dict[str, Any]:
    """``next_ring_at`` and ``next_sync_at`` for the alarm's current rules.

    Generation is due at the ring minus the lead, or at once when that has passed already
    (an alarm set 10 minutes ahead is generated right away). Inactive alarms, and one-offs
    whose time has passed, are never due.
    """
    ring = next_ring(alarm, now) if alarm.active else None
    if ring is None:
        return {"next_ring_at": None, "next_sync_at": FAR_FUTURE}
    due = ring - timedelta(minutes=alarm.lead_minutes)
    return {"next_ring_at": ring, "next_sync_at": max(due, now)}


def alarm_create(owner, *, now: datetime | None = None, **fields: Any) -> Alarm:
    """Create an alarm for ``owner``, in the tier of the owner's plan, scheduled.

    Raises AlarmLimitReached when the plan's allowance is used up.
    """
    now = now or clock.now()
    limit = allowance_for(owner).items
    with transaction.atomic():
        if Alarm.objects.filter(owner=owner).count() >= limit:
            raise AlarmLimitReached(f"Your plan allows {limit} alarm(s).")
        alarm = Alarm(
            owner=owner,
            tier=tier_for(owner, KIND),
            **{k: v for k, v in fields.items() if k in EDITABLE_FIELDS},
        )
        for name, value in schedule_fields(alarm, now).items():
            setattr(alarm, name, value)
        alarm.full_clean(exclude=["tier"])
        alarm.save()
    return alarm


def alarm_update(alarm: Alarm, *, now: datetime | None = None, **fields: Any) -> Alarm:
    """Change an alarm's rules and reschedule it; an owner's edit also lifts an engine
    pause (the owner changed something, so try again)."""
    now = now or clock.now()
    with transaction.atomic():
        locked = Alarm.objects.select_for_update().get(pk=alarm.pk)
        for name, value in fields.items():
            if name in EDITABLE_FIELDS:
                setattr(locked, name, value)
        for name, value in schedule_fields(locked, now).items():
            setattr(locked, name, value)
        locked.paused = False
        locked.pause_reason = ""
        locked.consecutive_failures = 0
        locked.full_clean(exclude=["tier"])
        locked.save()
    return locked
