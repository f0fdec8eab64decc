"""The alarms' promise, for the engine's freshness figures: a briefing ready before its ring.

An alarm is not "synced every day": a weekday alarm rings five days a week, a one-off once.
So the on-time rate of ``alarms.alarm`` counts **rings**, not items: of the rings in the last
``RING_WINDOW`` whose deadline has passed, the share whose briefing was ``ready`` in time
(``late``, ``fallback``, ``failed`` or still ``pending`` count against it). A ring that
passed without any briefing row (the deadline sweep did not run) counts as late too. A day
without rings counts nothing, so the rate (and its alert) has nothing to say on a weekend.

``stalest_age`` is how long the most overdue generation has been waiting past its due time
(0 when none is). Paused alarms are counted apart, as for every kind.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, F, Min, Q

from alarms.models import Alarm, Briefing, BriefingStatus
from alarms.services.deadlines import DEADLINE_BEFORE_RING
from syncing.monitoring.freshness import Freshness

RING_WINDOW = timedelta(hours=24)
# The deadline sweep runs every minute: a ring older than this without a row was missed.
SWEEP_SLACK = timedelta(minutes=2)


def alarm_freshness(kind, tier, now: datetime) -> Freshness:
    """Freshness of the alarms in ``tier`` by their rings (three aggregate queries)."""
    alarms = Alarm.objects.filter(tier=tier.name)
    rings = Briefing.objects.filter(
        alarm__tier=tier.name,
        alarm__paused=False,
        ring_at__gt=now - RING_WINDOW,
        ring_at__lte=now + DEADLINE_BEFORE_RING,  # the deadline has passed
    ).aggregate(
        n=Count("pk"),
        ready=Count("pk", filter=Q(status=BriefingStatus.READY)),
    )
    # Rang (and past the sweep's slack) but never rolled on: no briefing row was written.
    missed = (
        alarms.filter(
            active=True,
            paused=False,
            next_ring_at__gt=now - RING_WINDOW,
            next_ring_at__lte=now - SWEEP_SLACK,
        )
        .exclude(briefings__ring_at=F("next_ring_at"))
        .count()
    )
    row = alarms.aggregate(
        n_paused=Count("pk", filter=Q(paused=True)),
        n_failing=Count("pk", filter=Q(paused=False, active=True, consecutive_failures__gt=0)),
        oldest_due=Min("next_sync_at", filter=Q(paused=False, active=True)),
    )
    oldest_due = row["oldest_due"]
    stalest = max(now - oldest_due, timedelta(0)) if oldest_due else timedelta(0)
    return Freshness(
        kind=kind.name,
        tier=tier.name,
        interval=tier.interval,
        items=rings["n"] + missed,
        on_time=rings["ready"],
        paused=row["n_paused"],
        failing=row["n_failing"],
        stalest_age=stalest,
        unit="rings",
    )
