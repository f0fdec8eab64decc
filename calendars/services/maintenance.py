"""Maintenance during a stay: shown to the host, never alarmed.

A cleaning on the check-out or check-in day is a turnover. One that holds a night of a
reservation, or falls on a day the guest is there from morning to night, is worth a
look (a plumber booked while guests are in): the month view and the conflicts page show
it as a note, not as a double booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

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


def _of_kind(kind: str) -> Q:
    """Events whose effective kind is ``kind`` (a feed's kind is stored on its events)."""
    return Q(kind_override=kind) | Q(kind_override="", kind=kind)


def maintenance_during_stays(
    listings: list[Listing], *, start: datetime, end: datetime
) -> list[MaintenanceNote]:
    """Maintenance events of ``listings`` between ``start`` and ``end`` that fall inside a
    reservation of the same listing (any feed), each with that reservation. Reads the
    maintenance first, then only the reservations near it."""
    by_pk = {listing.pk: listing for listing in listings}
    live = Event.objects.exclude(status=EventStatus.CANCELLED).filter(echo_of__isnull=True)
    maintenance = list(
        live.filter(
            _of_kind(EventKind.MAINTENANCE),
            feed__listing_id__in=list(by_pk),
            start__lt=end,
            end__gt=start,
        )
        .select_related("feed")
        .order_by("start", "pk")
    )
    if not maintenance:
        return []
    stays_by_listing: dict[int, list[Event]] = {}
    for stay in live.filter(
        _of_kind(EventKind.RESERVATION),
        feed__listing_id__in={event.feed.listing_id for event in maintenance},
        start__lt=max(event.end for event in maintenance) + NEAR,
        end__gt=min(event.start for event in maintenance) - NEAR,
    ).select_related("feed"):
        stays_by_listing.setdefault(stay.feed.listing_id, []).append(stay)
    notes: list[MaintenanceNote] = []
    for event in maintenance:
        listing = by_pk[event.feed.listing_id]
        window = StayWindow.of(listing)
        nights = held_nights(event.start, event.end, event.all_day, window)
        days = touched_days(event.start, event.end, event.all_day, window)
        for stay in stays_by_listing.get(listing.pk, []):
            stay_nights = held_nights(stay.start, stay.end, stay.all_day, window)
            if stay_nights and during_stay(nights, days, stay_nights):
                notes.append(MaintenanceNote(listing, event, stay))
                break
    return notes
