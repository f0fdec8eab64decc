"""The owner's word on what events are: per event (``kind_override``) and per feed
(``Feed.event_kind``). Either change re-decides the listing's double bookings at once.

Event kinds (booking, block...), not the engine's kind: that is calendars/kinds.py."""

from __future__ import annotations

from django.db import transaction

from calendars.ics.classify import classify
from calendars.models import Event, EventKind, Feed
from calendars.services.conflicts import refresh_conflicts


class UnknownKind(ValueError):
    """Not one of EventKind's values (nor blank, where blank is allowed)."""


def _check(kind: str) -> str:
    kind = (kind or "").strip()
    if kind and kind not in EventKind.values:
        raise UnknownKind(f"{kind!r} is not one of {', '.join(EventKind.values)}.")
    return kind


def event_set_kind(event: Event, kind: str) -> Event:
    """Set (or, with "", clear) the owner's kind for one event; it survives re-imports.
    Raises UnknownKind."""
    kind = _check(kind)
    with transaction.atomic():
        Event.objects.filter(pk=event.pk).update(kind_override=kind)
        event.kind_override = kind
        refresh_conflicts(event.feed.listing_id, [event.pk])
    return event


def feed_set_event_kind(feed: Feed, kind: str) -> Feed:
    """Make every event of ``feed`` of ``kind``, or ("") read each one's kind from its
    wording again (a new feed's kind, say). Raises UnknownKind."""
    kind = _check(kind)
    with transaction.atomic():
        Feed.objects.filter(pk=feed.pk).update(event_kind=kind)
        feed.event_kind = kind
        apply_feed_kind(feed)
    return feed


def apply_feed_kind(feed: Feed) -> None:
    """After ``feed.event_kind`` changed (saved already, by listings.feed_update say): the
    stored kinds follow at once, and the listing's double bookings are decided again
    (the next import reads every event again anyway)."""
    with transaction.atomic():
        events = Event.objects.filter(feed=feed)
        if feed.event_kind:
            events.exclude(kind=feed.event_kind).update(kind=feed.event_kind)
        else:
            rows = list(events.values_list("pk", "summary", "description", "kind"))
            moved = [
                Event(pk=pk, kind=read)
                for pk, summary, description, stored in rows
                if (read := classify(summary, description)) != stored
            ]
            Event.objects.bulk_update(moved, ["kind"], batch_size=500)
        refresh_conflicts(feed.listing_id, None)
