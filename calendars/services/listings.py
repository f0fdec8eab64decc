"""Creating and changing listings and feeds within the owner's plan, and manual syncs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from calendars.apps import FEED_KIND
from calendars.models import Feed, Listing, guess_source
from calendars.services.conflicts import detect_conflicts
from syncing.plans import allowance_for, manual_sync_take, tier_for
from syncing.services.dispatch import sync_now

# Enough for every channel of a listing and then some; stops a runaway script.
MAX_FEEDS_PER_LISTING = 20


class AllowanceExceeded(Exception):
    """The owner's plan does not allow this; the message says why, in words."""


@dataclass(frozen=True)
class ManualSync:
    accepted: bool  # False: over the hourly allowance
    queued: bool  # False: a sync of this feed is already under way
    retry_after: int = 0  # seconds until the allowance frees up


def listing_create(*, owner, name: str, timezone_name: str = "UTC") -> Listing:
    """Create a listing. Raises AllowanceExceeded past the plan's number of listings."""
    allowance = allowance_for(owner)
    if Listing.objects.filter(owner=owner).count() >= allowance.items:
        raise AllowanceExceeded(
            f"Your plan allows {allowance.items} listing(s); remove one or upgrade to add more."
        )
    return Listing.objects.create(owner=owner, name=name, timezone=timezone_name)


def feed_create(
    *, listing: Listing, url: str, source: str = "", name: str = "", export_back: bool = True
) -> Feed:
    """Add a feed to a listing, in the tier of the owner's plan; it is due at once.

    The channel is guessed from the URL when ``source`` is empty. Raises AllowanceExceeded
    past MAX_FEEDS_PER_LISTING.
    """
    if Feed.objects.filter(listing=listing).count() >= MAX_FEEDS_PER_LISTING:
        raise AllowanceExceeded(f"A listing can have at most {MAX_FEEDS_PER_LISTING} feeds.")
    return Feed.objects.create(
        listing=listing,
        url=url.strip(),
        source=source or guess_source(url),
        name=name,
        export_back=export_back,
        tier=tier_for(listing.owner, FEED_KIND),
        next_sync_at=timezone.now(),
    )


def feed_update(feed: Feed, *, changes: dict) -> Feed:
    """Apply ``changes`` (url, source, name, export_back, listing) to a feed.

    A new URL forgets the old validators, clears the failure state (also a pause) and makes
    the feed due at once. Moving a feed to another listing re-checks both listings'
    conflicts.
    """
    old_url, old_listing_id = feed.url, feed.listing_id
    for field, value in changes.items():
        setattr(feed, field, value.strip() if field == "url" else value)
    if not feed.source:
        feed.source = guess_source(feed.url)
    with transaction.atomic():
        if feed.url != old_url:
            feed.etag = feed.last_modified = feed.content_hash = ""
            feed.consecutive_failures = 0
            feed.last_error = ""
            feed.paused = False
            feed.pause_reason = ""
            feed.next_sync_at = timezone.now()
        feed.save()
        if feed.listing_id != old_listing_id:
            now = timezone.now()
            detect_conflicts(old_listing_id, now=now)
            detect_conflicts(feed.listing_id, now=now)
    return feed


def feed_delete(feed: Feed) -> None:
    """Remove a feed and its events; the listing's conflicts that involved them go too."""
    listing_id = feed.listing_id
    with transaction.atomic():
        feed.delete()
        detect_conflicts(listing_id, now=timezone.now())


def request_manual_sync(feed: Feed, *, owner) -> ManualSync:
    """Sync a feed now, at the front of the queue, within the plan's syncs per hour.

    Counted against the plan's manual syncs per hour (syncing.plans). A paused feed is
    resumed: asking for a sync is the owner saying "try again". Never raises for the
    allowance: the result says.
    """
    now = timezone.now()
    allowed, retry_after = manual_sync_take(owner)
    if not allowed:
        return ManualSync(accepted=False, queued=False, retry_after=retry_after)
    if feed.paused:
        Feed.objects.filter(pk=feed.pk).update(
            paused=False, pause_reason="", consecutive_failures=0, next_sync_at=now
        )
    queued = sync_now(FEED_KIND, feed.pk)
    return ManualSync(accepted=True, queued=queued)
