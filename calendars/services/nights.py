"""Nights: what a stay holds, in the listing's own zone.

Night D is the stay window [D at the listing's check-in time, D+1 at its check-out time],
in the listing's zone (15:00 to 11:00 by default). An all-day event holds the nights from
its start date to the day before its exclusive end date. A timed event (stored as UTC
instants) holds night D when it overlaps D's window: a 10:00-13:00 cleaning holds no night,
an 18:00-21:00 event on a stay's last night holds it. Double bookings are decided on
nights, never on raw instants (an all-day stay compared in UTC with a timed event is hours
off in America/Los_Angeles).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

ONE_DAY = timedelta(days=1)
# A timed event's nights lie within this much of its instants (a window is at most ~2 days
# from the UTC date, whatever the zone): enough padding to find the events near another.
NEAR = timedelta(days=2)
# Timed events are read within these instants: the nights around a stay's ends are looked up
# a day or two beyond them, which must stay inside datetime's range (a block "until
# 9999-12-31" is common; nothing is lost by ending it a few days before the end of time).
EARLIEST = datetime(1, 1, 4, tzinfo=UTC)
LATEST = datetime(9999, 12, 28, tzinfo=UTC)


@dataclass(frozen=True)
class StayWindow:
    """A listing's zone and its check-in and check-out times."""

    tz: zoneinfo.ZoneInfo
    check_in: time
    check_out: time

    @classmethod
    def of(cls, listing) -> StayWindow:
        return cls(
            tz=zoneinfo.ZoneInfo(listing.timezone),
            check_in=listing.check_in_time,
            check_out=listing.check_out_time,
        )

    def check_in_at(self, night: date) -> datetime:
        """The UTC instant night ``night`` starts (check-in on that day, local time)."""
        return _utc(self.tz, night, self.check_in)

    def check_out_at(self, night: date) -> datetime:
        """The UTC instant night ``night`` ends (check-out the next day, local time)."""
        return _utc(self.tz, night + ONE_DAY, self.check_out)


@lru_cache(maxsize=8192)
def _utc(tz: zoneinfo.ZoneInfo, day: date, at: time) -> datetime:
    # A detection reads each night's window several times, for many events.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def held_nights(
    start: datetime, end: datetime, all_day: bool, window: StayWindow
) -> tuple[date, date] | None:
    """The nights an event holds, as ``(first, stop)`` with ``stop`` exclusive, or None.

    ``start``/``end`` are stored instants (all-day events: midnight UTC of their dates).
    A timed event holds the nights whose window it overlaps, but one that only clips the
    edge of a window spends longer in the day-time gap beside it (between check-out and
    check-in) than in the window; that night is not held. So a 10:00-13:00 cleaning holds
    no night (1 h before the 11:00 check-out, 2 h after), nor does an early check-in at
    10:00, while an 18:00-21:00 event holds its night. Windows move forward with the
    night, so the held nights are one unbroken run.
    """
    if all_day:
        first, stop = start.date(), end.date()
        return (first, stop) if stop > first else None
    start, end = min(max(start, EARLIEST), LATEST), min(max(end, EARLIEST), LATEST)
    if end <= start:
        return None
    local_start = start.astimezone(window.tz).date()
    first = next(
        night
        for night in (local_start - ONE_DAY, local_start, local_start + ONE_DAY)
        if window.check_out_at(night) > start
    )
    local_end = end.astimezone(window.tz).date()
    last = next(
        night
        for night in (local_end, local_end - ONE_DAY, local_end - 2 * ONE_DAY)
        if window.check_in_at(night) < end
    )
    if first <= last:
        gap_after = _overlap(
            start, end, window.check_out_at(first), window.check_in_at(first + ONE_DAY)
        )
        if _in_window(start, end, first, window) <= gap_after:
            first += ONE_DAY
    if first <= last:
        gap_before = _overlap(
            start, end, window.check_out_at(last - ONE_DAY), window.check_in_at(last)
        )
        if _in_window(start, end, last, window) <= gap_before:
            last -= ONE_DAY
    return (first, last + ONE_DAY) if first <= last else None


def _overlap(start: datetime, end: datetime, lo: datetime, hi: datetime) -> timedelta:
    return max(timedelta(0), min(end, hi) - max(start, lo))


def _in_window(start: datetime, end: datetime, night: date, window: StayWindow) -> timedelta:
    return _overlap(start, end, window.check_in_at(night), window.check_out_at(night))


def touched_days(
    start: datetime, end: datetime, all_day: bool, window: StayWindow
) -> tuple[date, date] | None:
    """The local days an event touches, ``(first, stop)`` with ``stop`` exclusive."""
    if all_day:
        first, stop = start.date(), end.date()
        return (first, stop) if stop > first else None
    if end <= start:
        return None
    first = start.astimezone(window.tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(window.tz).date()
    return first, last + ONE_DAY


def nights_span(first: date, stop: date, window: StayWindow) -> tuple[datetime, datetime]:
    """The UTC instants from the check-in of night ``first`` to the check-out of the last
    night before ``stop``: how a run of nights is stored (Conflict.overlap_start/end)."""
    return window.check_in_at(first), window.check_out_at(stop - ONE_DAY)


def during_stay(
    nights: tuple[date, date] | None,
    days: tuple[date, date] | None,
    stay: tuple[date, date],
) -> bool:
    """True when an event (its held ``nights`` and touched ``days``) falls inside ``stay``
    (a reservation's nights): it holds one of the stay's nights, or touches a day the guest
    is there from morning to night (the nights before and after are both the stay's). A
    cleaning on the check-out or check-in day is a turnover, not during the stay."""
    if nights and nights[0] < stay[1] and stay[0] < nights[1]:
        return True
    if not days:
        return False
    # Days D with nights D-1 and D both in the stay: stay[0] + 1 <= D < stay[1].
    inner_first, inner_stop = stay[0] + ONE_DAY, stay[1]
    return days[0] < inner_stop and inner_first < days[1]
