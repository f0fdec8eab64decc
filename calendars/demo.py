"""Demo data: two listings whose feeds point at the local feed farm, one per channel style."""

from __future__ import annotations

from django.conf import settings

from calendars.apps import FEED_KIND
from calendars.models import Feed, Listing, Source
from syncing.plans import tier_for

DEMO_LISTINGS = [
    ("Seaside cottage", "Europe/Lisbon", [Source.AIRBNB, Source.VRBO, Source.BOOKING]),
    ("Mountain cabin", "America/Denver", [Source.AIRBNB, Source.GOOGLE]),
]


def feedfarm_url() -> str:
    return getattr(settings, "FEEDFARM_URL", "http://127.0.0.1:8200").rstrip("/")


def seed(owner) -> int:
    """Create the demo listings and feeds for ``owner`` (idempotent); returns the feeds made."""
    created = 0
    base = feedfarm_url()
    tier = tier_for(owner, FEED_KIND)
    for index, (name, tz, sources) in enumerate(DEMO_LISTINGS):
        listing, _ = Listing.objects.get_or_create(
            owner=owner, name=name, defaults={"timezone": tz}
        )
        for position, source in enumerate(sources):
            number = owner.pk * 100 + index * 10 + position
            url = f"{base}/feeds/{number}.ics?style={source}"
            _, made = Feed.objects.get_or_create(
                listing=listing,
                url=url,
                defaults={"source": source, "name": f"{Source(source).label} (demo)", "tier": tier},
            )
            created += made
    return created
