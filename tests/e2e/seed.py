"""An owner's account with something in every state, written straight to the database (no
network): feeds ok / paused / failing / waiting, a double booking, an alarm with a chime
briefing, products with and without prices, recent syncs, an API token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from knox.models import AuthToken

from alarms.services.alarms import alarm_create
from calendars.models import Event, EventKind, Feed, Listing
from calendars.services.conflicts import detect_conflicts
from calendars.services.listings import feed_create, listing_create
from market.models import PriceSnapshot, Product, Watch
from syncing.kinds import get_kind
from syncing.models import SyncAttempt
from syncing.services.claims import claim_one
from syncing.services.runs import run_claimed

LAST_IMPORT = {
    "events": 30, "created": 2, "updated": 1, "cancelled": 0, "unchanged": 27, "renamed": 0,
    "skipped": [], "skipped_count": 0, "unknown_tzids": [], "left_out": 0, "truncated": False,
    "covered_until": None, "held_back": 0, "kept": {},
}  # fmt: skip


@dataclass
class Seeded:
    listing: Listing
    feeds: dict[str, Feed]
    alarm_id: int
    watch_id: int


def seed_account(owner) -> Seeded:
    now = timezone.now()
    listing = listing_create(owner=owner, name="Lake house", timezone_name="Europe/Paris")
    listing_create(owner=owner, name="Mountain cabin with a rather long name", timezone_name="UTC")
    feeds = {
        name: feed_create(listing=listing, url=f"https://{host}/calendar/{name}.ics", name=label)
        for name, host, label in (
            ("ok", "www.airbnb.com", ""),
            ("paused", "www.vrbo.com", "VRBO main"),
            ("failing", "admin.booking.com", ""),
            ("new", "calendar.google.com", "Cleaning rota"),
        )
    }
    at = (now - timedelta(minutes=3)).isoformat()
    Feed.objects.filter(pk=feeds["ok"].pk).update(
        last_success_at=now - timedelta(minutes=3),
        last_synced_at=now - timedelta(minutes=3),
        next_sync_at=now + timedelta(minutes=57),
        last_import={**LAST_IMPORT, "at": at},
    )
    Feed.objects.filter(pk=feeds["paused"].pk).update(
        paused=True,
        consecutive_failures=10,
        pause_reason="Paused after 10 failures in a row: the channel answers 404 (not found).",
    )
    Feed.objects.filter(pk=feeds["failing"].pk).update(
        consecutive_failures=1,
        last_error="admin.booking.com: the server did not answer in time",
        next_sync_at=now + timedelta(minutes=4),
        last_success_at=now - timedelta(hours=2),
    )
    Feed.objects.filter(pk=feeds["new"].pk).update(next_sync_at=now + timedelta(minutes=5))
    for feed, uid in ((feeds["ok"], "a1"), (feeds["failing"], "b1")):
        Event.objects.create(
            feed=feed,
            uid=uid,
            start=now + timedelta(days=2),
            end=now + timedelta(days=5),
            summary="Reserved",
            kind=EventKind.RESERVATION,
        )
    detect_conflicts(listing.pk, now=now)
    alarm = alarm_create(
        owner, time=(now + timedelta(hours=2)).time().replace(second=0, microsecond=0),
        timezone="Europe/Paris", days=[0, 1, 2, 3, 4], date=None, label="Weekday wake-up",
    )  # fmt: skip
    claim = claim_one(get_kind("alarms.alarm"), alarm.pk, force=True)
    run_claimed("alarms.alarm", claim.token, claim.pks)  # the tone engine: a chime
    priced = Product.objects.create(
        sku="DD1391-100", name="Nike Dunk Low Retro", brand="Nike", tier="hot",
        last_success_at=now - timedelta(minutes=10), next_sync_at=now + timedelta(minutes=45),
    )  # fmt: skip
    for hours, amount in ((150, "120.00"), (30, "118.00"), (1, "112.50")):
        PriceSnapshot.objects.create(
            product=priced, provider="stockx", region="US", size="", currency="USD",
            lowest_ask=Decimal(amount), captured_at=now - timedelta(hours=hours),
        )  # fmt: skip
    waiting = Product.objects.create(
        sku="FQ8080-133", name="Air Jordan 1 Low", brand="Jordan", tier="warm",
        next_sync_at=now + timedelta(minutes=20),
    )  # fmt: skip
    watch = Watch.objects.create(owner=owner, product=priced, threshold_price=Decimal("110"))
    Watch.objects.create(owner=owner, product=waiting)
    for minutes, feed, outcome in ((1, feeds["ok"], "ok"), (6, feeds["failing"], "failed")):
        SyncAttempt.objects.create(
            kind="calendars.feed", item_id=feed.pk, owner=owner, outcome=outcome,
            started_at=now - timedelta(minutes=minutes), duration_ms=240,
            reason="" if outcome == "ok" else "timeout",
        )  # fmt: skip
    AuthToken.objects.create(user=owner)
    return Seeded(listing=listing, feeds=feeds, alarm_id=alarm.pk, watch_id=watch.pk)


def owner_pages(seeded: Seeded) -> dict[str, str]:
    """name -> path of every owner page (logged in)."""
    listing, feed = seeded.listing.pk, seeded.feeds["ok"].pk
    return {
        "dashboard": "/dashboard/",
        "calendars": "/calendars/",
        "listing-new": "/calendars/listings/new/",
        "listing-edit": f"/calendars/listings/{listing}/edit/",
        "listing-remove": f"/calendars/listings/{listing}/delete/",
        "month": f"/calendars/listings/{listing}/month/",
        "feed-new": f"/calendars/listings/{listing}/feeds/new/",
        "feed-edit": f"/calendars/feeds/{feed}/edit/",
        "feed-remove": f"/calendars/feeds/{feed}/delete/",
        "feed-import": f"/calendars/feeds/{feed}/import/",
        "conflicts": "/calendars/conflicts/",
        "alarms": "/alarms/",
        "alarm-new": "/alarms/new/",
        "alarm-edit": f"/alarms/{seeded.alarm_id}/edit/",
        "market": "/market/",
        "alert": f"/market/watches/{seeded.watch_id}/alert/",
        "status": "/status/",
        "tokens": "/account/tokens/",
    }
