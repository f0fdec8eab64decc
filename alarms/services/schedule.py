"""When an alarm rings next: local wall-clock times turned into UTC instants with zoneinfo.

An alarm is a local time (07:00) in an IANA zone, repeating on weekdays (0 = Monday) or once
on a date. Daylight-saving changes make some local times special, and we decide them so:

- **A time that does not exist that day** (spring forward: in Europe/Berlin 02:30 on the last
  Sunday of March is skipped, clocks jump from 02:00 to 03:00) rings at the **first valid
  minute after it**, that is when the clocks resume (03:00 local). It still rings that day.
- **A time that occurs twice** (fall back: in Europe/Berlin 02:30 on the last Sunday of
  October happens in summer time and again an hour later in winter time) rings **once, at
  the first** occurrence (``fold=0``, the earlier UTC instant).
- Zones without DST (Asia/Kolkata, UTC+05:30) and half-hour offsets need nothing special.

Every function takes the instant to count from (``after``) explicitly: nothing here reads
the clock, so benchmarks and tests can simulate time (see ``alarms.services.clock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# A spring-forward gap is one hour almost everywhere (30 minutes on Lord Howe Island); we
# look this far past the requested minute for the first one that exists.
MAX_GAP_MINUTES = 180
# A repeating alarm with at least one weekday rings within the next 8 local days.
SEARCH_DAYS = 8


class AlarmRule(Protocol):
    """What the schedule needs of an alarm (the model fits; so does ``Rule``)."""

    time: time
    timezone: str
    days: list[int]
    date: date | None


@dataclass(frozen=True)
class Rule:
    time: time
    timezone: str
    days: list[int]
    date: date | None = None


def exists_locally(wall: datetime, zone: ZoneInfo) -> bool:
    """True if the naive local ``wall`` time occurs in ``zone`` (is not skipped by a gap)."""
    aware = wall.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``at`` on local ``day`` in ``zone``, by the DST rules
    above: a skipped time moves to the first valid minute after it; a repeated time is the
    first occurrence."""
    wall = datetime.combine(day, at.replace(second=0, microsecond=0, tzinfo=None))
    if not exists_locally(wall, zone):
        probe = wall
        for _ in range(MAX_GAP_MINUTES):
            probe += timedelta(minutes=1)
            if exists_locally(probe, zone):
                wall = probe
                break
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def next_ring(rule: AlarmRule, after: datetime) -> datetime | None:
    """The first ring of ``rule`` strictly after the aware instant ``after``, in UTC.

    A one-off (no days) rings once, on ``rule.date``: None when that is not after ``after``
    (or it has no date). A repeating alarm rings on each local weekday in ``rule.days``.
    Raises zoneinfo.ZoneInfoNotFoundError for an unknown zone.
    """
    zone = ZoneInfo(rule.timezone)
    if not rule.days:
        if rule.date is None:
            return None
        ring = local_to_utc(rule.date, rule.time, zone)
        return ring if ring > after else None
    days = set(rule.days)
    start = after.astimezone(zone).date()
    for offset in range(SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if day.weekday() in days:
            ring = local_to_utc(day, rule.time, zone)
            if ring > after:
                return ring
    return None


def rings_between(rule: AlarmRule, start: datetime, end: datetime) -> list[datetime]:
    """Every ring in (start, end], in order (for pages, the admin and the benchmark)."""
    rings = []
    ring = next_ring(rule, start)
    while ring is not None and ring <= end:
        rings.append(ring)
        ring = next_ring(rule, ring)
    return rings


def sync_due_for(ring_at: datetime | None, lead_minutes: int) -> datetime | None:
    """When generation for ``ring_at`` should start: the ring minus the lead."""
    if ring_at is None:
        return None
    return ring_at - timedelta(minutes=lead_minutes)
