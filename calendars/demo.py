"""Demo data: two listings whose feeds point at the local feed farm, one per channel style.

Wired like a real host's channels, so that once everything has synced the only open double
bookings are real ones (the farm's deliberate ``doubles``, a stay booked in a sibling
channel's lane):

- **Seaside cottage**: Airbnb, and VRBO and Booking.com, which import the listing's export
  (their ``?for=`` link) and re-publish its all-day events as their own "Blocked" / "CLOSED -
  Not available" blocks under their own UIDs. The farm really fetches that export URL (at
  ``settings.SITE_URL``) each time its feed is read, so the export records the fetch per
  channel (``Listing.export_state``) and the import recognises the copies as our echo;
  nothing is faked in the database. Until the web process answers, the copies are simply
  missing (as with a channel that has not polled yet).
- **Mountain cabin**: Airbnb, and the owner's Google calendar in the listing's zone: the
  owner's stays (timed, 16:00-11:00) and a cleaning (11:00-14:00) on every checkout day,
  Airbnb's included. Airbnb imports the export too, and copies the owner's timed stays as
  "Airbnb (Not available)" days; the cleanings hold no night and are never exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings

from calendars.kinds import FEED_KIND
from calendars.models import Feed, Listing, Source
from syncing.plans import tier_for

# Feed ids on the farm: FEED_BASE + 10 * listing + position. The farm books feeds in lanes
# of weeks by id % 4, so a listing's channels (neighbouring ids) book different weeks.
FEED_BASE = 100


@dataclass(frozen=True)
class DemoFeed:
    source: str
    doubles: int = 0  # future stays booked into the next channel's lane: real double bookings
    echo: bool = False  # the channel imports our export and re-publishes it
    cleans: bool = False  # a Google calendar with a cleaning on every sibling's checkout day


@dataclass(frozen=True)
class DemoListing:
    name: str
    timezone: str
    feeds: tuple[DemoFeed, ...]


DEMO_LISTINGS = (
    DemoListing(
        "Seaside cottage",
        "Europe/Lisbon",
        (
            DemoFeed(Source.AIRBNB, doubles=1),
            DemoFeed(Source.VRBO, echo=True),
            DemoFeed(Source.BOOKING, echo=True),
        ),
    ),
    DemoListing(
        "Mountain cabin",
        "America/Denver",
        (DemoFeed(Source.AIRBNB, doubles=1, echo=True), DemoFeed(Source.GOOGLE, cleans=True)),
    ),
)


def feedfarm_url() -> str:
    return settings.FEEDFARM_URL.rstrip("/")


def farm_id(listing_index: int, position: int) -> int:
    return FEED_BASE + 10 * listing_index + position


def demo_feed_url(listing: Listing, spec: DemoListing, index: int, position: int) -> str:
    """The farm URL of the feed at ``position`` of demo listing ``index``."""
    feed = spec.feeds[position]
    url = f"{feedfarm_url()}/feeds/{farm_id(index, position)}.ics?style={feed.source}"
    if feed.doubles:
        url += f"&doubles={feed.doubles}"
    if feed.echo:
        export = f"{settings.SITE_URL.rstrip('/')}{listing.export_path}?for={feed.source}"
        url += f"&echo={quote(export, safe='')}"
    if feed.cleans:
        siblings = [
            f"{farm_id(index, p)}:{other.doubles}" if other.doubles else str(farm_id(index, p))
            for p, other in enumerate(spec.feeds)
            if p != position
        ]
        url += f"&tz={quote(listing.timezone, safe='')}&cleaning_for={','.join(siblings)}"
    return url


def seed(owner) -> int:
    """Create the demo listings and feeds for ``owner`` (idempotent: an existing demo feed
    gets its current URL); returns the feeds made."""
    created = 0
    tier = tier_for(owner, FEED_KIND)
    for index, spec in enumerate(DEMO_LISTINGS):
        listing, _ = Listing.objects.get_or_create(
            owner=owner, name=spec.name, defaults={"timezone": spec.timezone}
        )
        for position, feed in enumerate(spec.feeds):
            _, made = Feed.objects.update_or_create(
                listing=listing,
                name=f"{Source(feed.source).label} (demo)",
                defaults={
                    "url": demo_feed_url(listing, spec, index, position),
                    "source": feed.source,
                },
                create_defaults={
                    "url": demo_feed_url(listing, spec, index, position),
                    "source": feed.source,
                    "tier": tier,
                },
            )
            created += made
    return created
