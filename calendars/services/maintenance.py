"""Maintenance during a stay: shown to the host, never alarmed.

A cleaning on the check-out or check-in day is a turnover. One that holds a night of a
reservation, or falls on a day the guest is there from morning to night, is worth a
look (a plumber booked while guests are in): the month view and the conflicts page show
it as a note, not as a double booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calendars.models import Event, EventKind, EventStatus, Listing
from calendars.services.nights import (
    NEAR,
    StayWindow,
    during_stay,
    held_nights,
    touched_days,
)


@dataclass(frozen=True)
class MaintenanceNote:
    listing: Listing
    maintenance: Event
    stay: Event


def maintenance_during_stays(
    listings: list[Listing], *, start: datetime, end: datetime
) -> list[MaintenanceNote]:
    """Maintenance events of ``listings`` between ``start`` and ``end`` that fall inside a
    reservation of the same listing (any feed), each with that reservation."""
    notes: list[MaintenanceNote] = []
    by_pk = {listing.pk: listing for listing in listings}
    events = (
        Event.objects.filter(
            feed__listing_id__in=list(by_pk),
            start__lt=end + NEAR,
            end__gt=start - NEAR,
            echo_of__isnull=True,
        )
        .exclude(status=EventStatus.CANCELLED)
        .select_related("feed")
        .order_by("start", "pk")
    )
    per_listing: dict[int, list[Event]] = {}
    for event in events:
        per_listing.setdefault(event.feed.listing_id, []).append(event)
    for listing_id, listed in per_listing.items():
        listing = by_pk[listing_id]
        window = StayWindow.of(listing)
        stays = []
        for event in listed:
            if _kind(event) == EventKind.RESERVATION:
                nights = held_nights(event.start, event.end, event.all_day, window)
                if nights:
                    stays.append((event, nights))
        for event in listed:
            if _kind(event) != EventKind.MAINTENANCE or not (
                event.start < end and start < event.end
            ):
                continue
            nights = held_nights(event.start, event.end, event.all_day, window)
            days = touched_days(event.start, event.end, event.all_day, window)
            for stay, stay_nights in stays:
                if during_stay(nights, days, stay_nights):
                    notes.append(MaintenanceNote(listing, event, stay))
                    break
    return notes


def _kind(event: Event) -> str:
    return event.kind_override or event.feed.event_kind or event.kind
