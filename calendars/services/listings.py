"""Creating and changing listings and feeds within the owner's plan, and manual syncs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from calendars.kinds import FEED_KIND
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
    accepted: bool  # False: over the hourly allowance (or paused, see ``paused``)
    queued: bool  # False: a sync of this feed is already under way
    retry_after: int = 0  # seconds until the allowance frees up
    paused: bool = False  # the feed is paused and was left so (nothing counted or queued)


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
    """Apply ``changes`` (url, source, name, export_back, listing, event_kind) to a feed.

    A new URL forgets the old validators, clears the failure state (also a pause) and makes
    the feed due at once. A new event kind makes the next import read every event again.
    Moving a feed to another listing re-checks both listings'
    conflicts.
    """
    old_url, old_listing_id = feed.url, feed.listing_id
    old_kind = feed.event_kind
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
        if feed.event_kind != old_kind:
            # Every event's kind is read again: the next import decodes every block (the
            # unchanged-block shortcut keys on this digest) and is due at once.
            feed.parse_context_hash = feed.content_hash = feed.etag = feed.last_modified = ""
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


def request_manual_sync(feed: Feed, *, owner, resume: bool = False) -> ManualSync:
    """Sync a feed now, at the front of the queue, within the plan's syncs per hour.

    Counted against the plan's manual syncs per hour (syncing.plans). A paused feed is
    resumed only when ``resume`` says so (the API's documented "asking is trying again");
    otherwise it stays paused, nothing is counted, and the result says ``paused`` (the
    pages: resuming is its own button). Never raises for the allowance: the result says.
    """
    if feed.paused and not resume:
        return ManualSync(accepted=False, queued=False, paused=True)
    allowed, retry_after = manual_sync_take(owner)
    if not allowed:
        return ManualSync(accepted=False, queued=False, retry_after=retry_after)
    _resume_paused([feed.pk])
    queued = sync_now(FEED_KIND, feed.pk)
    return ManualSync(accepted=True, queued=queued)


@dataclass(frozen=True)
class ManualSyncAll:
    accepted: bool  # False: over the hourly allowance
    queued: int = 0  # feeds put at the front of the queue
    already: int = 0  # feeds whose sync was already under way
    paused: int = 0  # paused feeds, left paused (resuming is its own button)
    retry_after: int = 0  # seconds until the allowance frees up

    @property
    def detail(self) -> str:
        if not self.accepted:
            minutes = self.retry_after // 60 + 1
            return f"Manual sync allowance used up; try again in {minutes} min."
        if not self.queued and not self.already and not self.paused:
            return "No feeds to sync."
        text = f"{self.queued} feed{'s' if self.queued != 1 else ''} queued"
        if self.already:
            text += f", {self.already} already syncing"
        if self.paused:
            text += f"; {self.paused} paused feed{'s' if self.paused != 1 else ''} left paused"
            text += " (resume it first)" if self.paused == 1 else " (resume them first)"
        return text + "."


def request_manual_sync_all(*, owner, listing: Listing | None = None) -> ManualSyncAll:
    """Sync all the owner's feeds (of ``listing`` only, when given) now: "Sync all feeds".

    One request counts as one manual sync against the plan's hourly allowance, whatever the
    number of feeds; each feed goes through the engine's sync-now (a feed already syncing is
    left alone). Paused feeds stay paused and are counted: resuming is the owner's own
    decision, made with its own button. Never raises for the allowance: the result says.
    """
    allowed, retry_after = manual_sync_take(owner)
    if not allowed:
        return ManualSyncAll(accepted=False, retry_after=retry_after)
    feeds = Feed.objects.filter(listing__owner=owner)
    if listing is not None:
        feeds = feeds.filter(listing=listing)
    paused = feeds.filter(paused=True).count()
    pks = list(feeds.filter(paused=False).order_by("pk").values_list("pk", flat=True))
    queued = sum(1 for pk in pks if sync_now(FEED_KIND, pk))
    return ManualSyncAll(accepted=True, queued=queued, already=len(pks) - queued, paused=paused)


def _resume_paused(pks: list[int]) -> None:
    Feed.objects.filter(pk__in=pks, paused=True).update(
        paused=False, pause_reason="", consecutive_failures=0, next_sync_at=timezone.now()
    )
