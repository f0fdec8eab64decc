"""The merged export of a listing: one iCalendar of its blocking events, with validators.

The body is deterministic for the same events (stable UIDs, DTSTAMP from the event's last
change), so its hash is a strong ETag and channels polling every few minutes mostly get
304s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from calendars.ics.export import build_calendar
from calendars.models import EXPORT_DOMAIN, Event, EventKind, EventStatus, Listing, Source

WINDOW_DAYS = 30  # events that ended longer ago than this are left out
CACHE_CONTROL = "private, max-age=300"
PRODID = "-//Syncbeat//Merged calendar//EN"


class UnknownChannel(ValueError):
    """The ``for`` parameter names no known channel."""


@dataclass(frozen=True)
class ExportEvent:
    export_uid: str
    start: object  # date for all-day events, else an aware UTC datetime
    end: object
    all_day: bool
    summary: str
    dtstamp: datetime


@dataclass(frozen=True)
class ExportDocument:
    body: bytes
    etag: str  # quoted, as sent in the header
    last_modified: datetime


def export_uid(feed_id: int, uid: str) -> str:
    """A stable UID for an imported event, in our own domain (so our echo is recognised)."""
    digest = hashlib.sha1(f"{feed_id}:{uid}".encode(), usedforsecurity=False).hexdigest()
    return f"{digest[:32]}@{EXPORT_DOMAIN}"


def listing_for_token(token: str) -> Listing | None:
    if not token or len(token) > 64:
        return None
    return Listing.objects.filter(export_token=token).first()


def export_events(listing: Listing, *, leave_out: str | None, now: datetime) -> list[ExportEvent]:
    """The listing's blocking, live events from ``now - WINDOW_DAYS`` on, oldest first."""
    qs = (
        Event.objects.filter(
            feed__listing=listing,
            feed__export_back=True,
            blocking=True,
            end__gte=now - timedelta(days=WINDOW_DAYS),
        )
        .exclude(status=EventStatus.CANCELLED)
        .order_by("start", "feed_id", "uid")
    )
    if leave_out:
        qs = qs.exclude(feed__source=leave_out)
    events = []
    for feed_id, uid, start, end, all_day, kind, changed_at in qs.values_list(
        "feed_id", "uid", "start", "end", "all_day", "kind", "changed_at"
    ):
        events.append(
            ExportEvent(
                export_uid=export_uid(feed_id, uid),
                start=start.date() if all_day else start,
                end=end.date() if all_day else end,
                all_day=all_day,
                # Guests' names stay private: channels only need to know the dates are taken.
                summary="Reserved" if kind == EventKind.RESERVATION else "Not available",
                dtstamp=changed_at,
            )
        )
    return events


def build_export(listing: Listing, *, leave_out: str | None = None) -> ExportDocument:
    """The listing's merged calendar. ``leave_out`` (a Source value) omits that channel's
    events, for the URL given back to that channel. Raises UnknownChannel."""
    if leave_out and leave_out not in Source.values:
        raise UnknownChannel(leave_out)
    now = timezone.now()
    events = export_events(listing, leave_out=leave_out, now=now)
    changed = Event.objects.filter(feed__listing=listing).aggregate(m=Max("changed_at"))["m"]
    last_modified = max(filter(None, [changed, listing.created_at]))
    body = build_calendar(
        name=listing.name, events=events, domain=EXPORT_DOMAIN, prodid=PRODID, now=last_modified
    )
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    return ExportDocument(body=body, etag=etag, last_modified=last_modified.replace(microsecond=0))


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header against our ETag."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
