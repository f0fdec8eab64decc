"""Reads for the calendars pages, API and dashboard, always scoped to one owner."""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from calendars.models import Conflict, Event, EventStatus, Feed, Listing

# Months the month page shows; others read as malformed (this month).
MONTH_YEARS = (1900, 2200)


def owner_listings(user) -> QuerySet[Listing]:
    return Listing.objects.filter(owner=user)


def owner_feeds(user) -> QuerySet[Feed]:
    return Feed.objects.filter(listing__owner=user)


def owner_events(user) -> QuerySet[Event]:
    return Event.objects.filter(feed__listing__owner=user)


def owner_conflicts(user) -> QuerySet[Conflict]:
    return Conflict.objects.filter(listing__owner=user)


def listing_of_owner(user, pk: int) -> Listing:
    """The owner's listing, or Http404 (another owner's listing does not exist for them)."""
    return get_object_or_404(Listing, pk=pk, owner=user)


def feed_of_owner(user, pk: int) -> Feed:
    return get_object_or_404(Feed.objects.select_related("listing"), pk=pk, listing__owner=user)


def listings_overview(user) -> list[Listing]:
    """The owner's listings with their feeds and open-conflict counts, for the index page."""
    return list(
        owner_listings(user)
        .annotate(
            open_conflicts=Count(
                "conflicts",
                filter=Q(conflicts__resolved_at__isnull=True, conflicts__dismissed_at__isnull=True),
            )
        )
        .prefetch_related(Prefetch("feeds", queryset=Feed.objects.order_by("pk")))
    )


def open_conflicts(
    user, *, listing: Listing | None = None, dismissed: bool = False
) -> QuerySet[Conflict]:
    """The owner's open double bookings; the ones they dismissed (which stay open while
    their dates hold, but count nowhere) only with ``dismissed=True``."""
    qs = owner_conflicts(user).filter(resolved_at__isnull=True, dismissed_at__isnull=not dismissed)
    if listing is not None:
        qs = qs.filter(listing=listing)
    return qs.select_related("listing", "event_a__feed", "event_b__feed").order_by("overlap_start")


def status_lines(user) -> list[str]:
    """For the owner's status page: double bookings waiting for a decision, per listing."""
    from django.db.models import Count

    rows = open_conflicts(user).values("listing__name").annotate(n=Count("pk")).order_by("-n")
    return [
        f"{row['listing__name']}: {row['n']} double booking{'s' if row['n'] != 1 else ''} "
        "between channels to sort out."
        for row in rows
    ]


# --- month view ---------------------------------------------------------------------------


@dataclass
class DayCell:
    day: date
    in_month: bool
    events: list[Event] = field(default_factory=list)


def parse_month(value: str | None, today: date) -> date:
    """The first day of the month "YYYY-MM"; this month when missing or malformed."""
    if value:
        try:
            year, month = (int(part) for part in value.split("-", 1))
            if MONTH_YEARS[0] <= year <= MONTH_YEARS[1]:  # 9999-12's next month overflows
                return date(year, month, 1)
        except ValueError:
            pass
    return today.replace(day=1)


def month_weeks(listing: Listing, first: date) -> list[list[DayCell]]:
    """The weeks (Monday first) covering ``first``'s month, each day with the events that
    occupy it: all-day events on their dates (end exclusive), timed ones on the listing's
    local dates they touch. Cancelled events are left out."""
    weeks_dates = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    grid_start, grid_end = weeks_dates[0][0], weeks_dates[-1][-1] + timedelta(days=1)
    tz = zoneinfo.ZoneInfo(listing.timezone)
    cells = {d: DayCell(d, d.month == first.month) for week in weeks_dates for d in week}
    # Padded by a day each side: a timed event's local date may differ from its UTC date.
    lo = datetime.combine(grid_start - timedelta(days=1), time.min, tzinfo=UTC)
    hi = datetime.combine(grid_end + timedelta(days=1), time.min, tzinfo=UTC)
    events = (
        Event.objects.filter(feed__listing=listing, start__lt=hi, end__gt=lo)
        .exclude(status=EventStatus.CANCELLED)
        .select_related("feed")
        .order_by("start", "pk")
    )
    for event in events:
        if event.all_day:
            first_day, last_day = event.start.date(), event.end.date() - timedelta(days=1)
        else:
            first_day = event.start.astimezone(tz).date()
            end_local = event.end.astimezone(tz)
            last_day = end_local.date()
            if end_local.time() == time.min and end_local.date() > first_day:
                last_day -= timedelta(days=1)
        day = max(first_day, grid_start)
        while day <= last_day and day < grid_end:
            cells[day].events.append(event)
            day += timedelta(days=1)
    return [[cells[d] for d in week] for week in weeks_dates]


# --- dashboard ----------------------------------------------------------------------------


def dashboard_section(request) -> dict | None:
    """The calendars card on the dashboard: open double bookings and feed health."""
    user = request.user
    if not user.is_authenticated:
        return None
    feeds = owner_feeds(user)
    stats = feeds.aggregate(
        total_feeds=Count("pk"),
        paused_feeds=Count("pk", filter=Q(paused=True)),
        failing_feeds=Count("pk", filter=Q(paused=False, consecutive_failures__gt=0)),
    )
    if not stats["total_feeds"] and not owner_listings(user).exists():
        return None
    conflicts = list(open_conflicts(user)[:10])
    troubled = list(
        feeds.filter(Q(paused=True) | Q(consecutive_failures__gt=0))
        .select_related("listing")
        .order_by("-consecutive_failures")[:10]
    )
    return {
        "title": "Calendars",
        "template": "calendars/_dashboard.html",
        "conflicts": conflicts,
        "open_conflict_count": open_conflicts(user).count(),
        "feed_stats": stats,
        "troubled_feeds": troubled,
    }
