"""Echoes: our own export coming back from a channel under the channel's UIDs.

Booking.com and VRBO re-publish the blocks they import from our export as their own
blocks. A block in channel B's feed with exactly the dates of a live event of another feed
A of the same listing, that our export sent to B, is such an echo: A exports back, and B's
channel fetched our export (``Listing.export_state`` records a fetch of the variant made
for B, ``?for=<B's source>``, which carries every other channel's events, or of the plain
export, which carries them all). The echo is marked (``Event.echo_of``): it is never a
double booking and never exported again, so no ghost block travels back to A once A's
reservation is cancelled.

Channels do not let hosts edit the blocks they import, so an echo stays an echo: when A's
event is cancelled or moves, the copy is still ours (B drops or moves it at its next fetch
of our export). It points at another original only when its own dates now match one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Q

from calendars.models import Event, EventKind, EventStatus, Feed, Listing
from calendars.services.nights import NEAR, StayWindow, held_nights


def export_fetched_by(state: object, source: str) -> tuple[bool, bool]:
    """(plain export fetched, ``?for=source`` variant fetched), from the listing's
    ``export_state``."""
    state = state if isinstance(state, dict) else {}

    def fetched(variant: str) -> bool:
        record = state.get(variant)
        return isinstance(record, dict) and bool(record.get("fetched"))

    return fetched(""), bool(source) and fetched(source)


def _origin_feeds(feed: Feed) -> tuple[list[int], StayWindow | None]:
    """The feeds whose events our export sent to ``feed``'s channel, and the listing's
    stay window (for reading nights)."""
    # Read now, not from ``feed.listing``: the channel may have fetched our export while
    # this import was fetching its feed (the farm does exactly that).
    listing = Listing.objects.only(
        "export_state", "timezone", "check_in_time", "check_out_time"
    ).get(pk=feed.listing_id)
    plain, variant = export_fetched_by(listing.export_state, feed.source)
    if not (plain or variant):
        return [], None
    others = Feed.objects.filter(listing_id=feed.listing_id, export_back=True).exclude(pk=feed.pk)
    if not plain:  # ?for=<source> leaves out that channel's own feeds
        others = others.exclude(source=feed.source)
    return list(others.values_list("pk", flat=True)), StayWindow.of(listing)


def mark_echoes(feed: Feed, event_ids: Iterable[int] | None) -> list[int]:
    """Mark the blocks among ``event_ids`` of ``feed`` (the import's new and changed events;
    all its events when None) that echo another feed's live event: the same nights (the
    exact dates, for all-day events; a channel that copies a timed stay as dates keeps its
    nights). Call inside the import's transaction, before conflict detection (the marked
    ones are among the changes it is given). Returns the ids whose ``echo_of`` changed.
    Raises nothing of its own.

    Only a block new in its feed, first seen at or after its original, can be a copy of
    it; a block already there is left alone, even once the channel fetches our export or
    the block is edited (a real booking on the same dates must not be hidden)."""
    origins, window = _origin_feeds(feed)
    if not origins or window is None:
        return []
    candidates = Event.objects.filter(feed=feed).exclude(status=EventStatus.CANCELLED)
    candidates = candidates.filter(
        Q(kind_override=EventKind.BLOCK) | Q(kind_override="", kind=EventKind.BLOCK)
    ).filter(
        # A copy is new in its feed (never changed since first seen), or one already (its
        # dates follow the original's); a real block edited later is not judged again.
        Q(echo_of__isnull=False) | Q(first_seen=F("changed_at"))
    )
    if event_ids is not None:
        candidates = candidates.filter(pk__in=list(event_ids))
    rows = list(candidates.values_list("pk", "start", "end", "all_day", "echo_of_id", "first_seen"))
    if not rows:
        return []
    originals = _originals(origins, rows, window)
    changed = []
    for pk, start, end, all_day, echo_of, first_seen in rows:
        match = originals.get(held_nights(start, end, all_day, window))
        # The original was there before its copy came back.
        if match is not None and match[1] <= first_seen and match[0] != echo_of:
            Event.objects.filter(pk=pk).update(echo_of=match[0])
            changed.append(pk)
    return changed


def _originals(origins: list[int], rows: list[tuple], window: StayWindow) -> dict[tuple, tuple]:
    """(first night, stop) -> (pk, first_seen) of the live events of ``origins`` near the
    candidate ``rows``; the oldest event when several hold the same nights."""
    originals: dict[tuple, tuple] = {}
    for pk, start, end, all_day, first_seen in (
        Event.objects.filter(
            feed_id__in=origins,
            echo_of__isnull=True,
            start__lt=max(row[2] for row in rows) + NEAR,
            end__gt=min(row[1] for row in rows) - NEAR,
        )
        .exclude(status=EventStatus.CANCELLED)
        .order_by("pk")
        .values_list("pk", "start", "end", "all_day", "first_seen")
    ):
        nights = held_nights(start, end, all_day, window)
        if nights is not None:
            originals.setdefault(nights, (pk, first_seen))
    return originals
