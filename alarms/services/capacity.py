"""The alarms' peak for ``manage.py capacity``: alarms cluster (07:00 in every time zone),
so their demand is not the day's average.

The briefings of the rings at minute *m* are generated between the ring minus the lead and
the deadline (one minute before the ring), a window of ``lead - 1`` minutes. The busiest
such window of ring times (UTC minute of day, circular) holds the largest share of the
active alarms; that share must be generated within that window.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import ExtractHour, ExtractMinute

from alarms.models import Alarm
from alarms.services.deadlines import DEADLINE_BEFORE_RING
from syncing.monitoring.capacity import PeakShare

MINUTES_PER_DAY = 24 * 60


def busiest_window(per_minute: dict[int, int], width: int) -> tuple[int, int]:
    """(start minute of day, rings) of the busiest ``width``-minute window, wrapping at
    midnight."""
    counts = [per_minute.get(m, 0) for m in range(MINUTES_PER_DAY)]
    width = max(1, min(width, MINUTES_PER_DAY))
    running = sum(counts[:width])
    best, best_start = running, 0
    for start in range(1, MINUTES_PER_DAY):
        running += counts[(start + width - 1) % MINUTES_PER_DAY] - counts[start - 1]
        if running > best:
            best, best_start = running, start
    return best_start, best


def ring_peak(kind, now: datetime) -> PeakShare:
    """The share of active alarms whose rings fall in the busiest generation window.

    Without any alarm yet, assumes the worst: every alarm rings in the same minute.
    """
    active = Alarm.objects.filter(active=True, paused=False, next_ring_at__isnull=False)
    rows = (
        active.annotate(h=ExtractHour("next_ring_at"), m=ExtractMinute("next_ring_at"))
        .values("h", "m")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_minute = {r["h"] * 60 + r["m"]: r["n"] for r in rows}
    leads = Counter(dict(active.values_list("lead_minutes").annotate(n=Count("pk")).order_by()))
    lead = leads.most_common(1)[0][0] if leads else Alarm._meta.get_field("lead_minutes").default
    width = max(1, lead - int(DEADLINE_BEFORE_RING.total_seconds() // 60))
    window = timedelta(minutes=width)
    total = sum(per_minute.values())
    if not total:
        return PeakShare(
            1.0,
            window,
            0,
            f"no alarms yet: assumed all ring at once, {width} min "
            "to generate them (the lead minus the deadline)",
        )
    start, rings = busiest_window(per_minute, width)
    share = rings / total
    return PeakShare(
        share,
        window,
        total,
        f"{share:.0%} of {total:,} alarms here ring {_span(per_minute, start, width)} UTC, "
        f"generated within {width} min (lead {lead} min minus the deadline)",
    )


def _span(per_minute: dict[int, int], start: int, width: int) -> str:
    """'at 06:00' or 'between 06:00 and 06:40': the rings inside the window."""
    minutes = [(start + i) % MINUTES_PER_DAY for i in range(width)]
    busy = [m for m in minutes if per_minute.get(m)]
    first, last = busy[0], busy[-1]
    if first == last:
        return f"at {first // 60:02d}:{first % 60:02d}"
    return f"between {first // 60:02d}:{first % 60:02d} and {last // 60:02d}:{last % 60:02d}"
