"""Demo data: three alarms in different zones, one ringing within the next hour."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from alarms.models import Alarm
from alarms.services import clock
from alarms.services.alarms import AlarmLimitReached, alarm_create

DEMO = [
    {
        "label": "Demo: weekday wake-up",
        "timezone": "Europe/Berlin",
        "days": [0, 1, 2, 3, 4],
        "hour": 7,
        "minute": 0,
    },
    {
        "label": "Demo: weekend in New York",
        "timezone": "America/New_York",
        "days": [5, 6],
        "hour": 8,
        "minute": 30,
    },
]
SOON_LABEL = "Demo: soon, in Kolkata"


def seed(owner) -> int:
    """Create the demo alarms that ``owner`` lacks (idempotent); returns how many were made."""
    try:
        return _seed(owner)
    except AlarmLimitReached:  # a small plan: keep what fits
        return 0


def _seed(owner) -> int:
    have = set(Alarm.objects.filter(owner=owner).values_list("label", flat=True))
    made = 0
    for spec in DEMO:
        if spec["label"] in have:
            continue
        alarm_create(
            owner,
            label=spec["label"],
            timezone=spec["timezone"],
            days=spec["days"],
            time=time(spec["hour"], spec["minute"]),
            options={"note": "This is a demo alarm."},
        )
        made += 1
    if SOON_LABEL not in have:
        # A one-off 40 minutes from now in Kolkata: inside its 58-minute lead, so it is due at
        # once and its briefing is generated on the next dispatch.
        soon = (clock.now() + timedelta(minutes=40)).astimezone(ZoneInfo("Asia/Kolkata"))
        alarm_create(
            owner,
            label=SOON_LABEL,
            timezone="Asia/Kolkata",
            days=[],
            date=soon.date(),
            time=soon.time().replace(second=0, microsecond=0),
            options={"note": "Rings within the hour."},
        )
        made += 1
    return made
