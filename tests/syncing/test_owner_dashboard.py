"""The dashboard in people's words (issue 12, point 3): recent syncs name the feed, product
or alarm; counts match the pages they summarise (a product counted once per watcher's
watchlist, not by who added it first; a failing item is not also "waiting")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendars.services.listings import feed_create, listing_create
from market.models import Product, Watch
from syncing.models import SyncAttempt

pytestmark = pytest.mark.django_db


def test_products_are_counted_as_on_the_watchlist(client, alice, bob):
    for n in range(5):  # Alice added them first; only two stay on her watchlist
        product = Product.objects.create(sku=f"SKU-{n}", tier="warm", created_by=alice)
        Watch.objects.create(owner=bob, product=product)
        if n < 2:
            Watch.objects.create(owner=alice, product=product)
    Product.objects.filter(sku="SKU-0").update(consecutive_failures=2)
    client.force_login(alice)
    health = {row["kind"]: row for row in client.get("/dashboard/").context["health"]}
    assert health["market.product"]["total"] == 2
    assert (health["market.product"]["failing"], health["market.product"]["never"]) == (1, 1)
    watchlist = client.get("/market/").content.decode()
    assert "Watching 2 of" in watchlist


def test_recent_syncs_name_what_synced(client, alice):
    listing = listing_create(owner=alice, name="Lake house")
    feed = feed_create(listing=listing, url="https://www.vrbo.com/icalendar/1.ics")
    product = Product.objects.create(sku="DD1391-100", name="Dunk Low", brand="Nike")
    now = timezone.now()
    for kind, item_id, outcome in (
        ("calendars.feed", feed.pk, "failed"),
        ("market.product", product.pk, "ok"),
        ("calendars.feed", 999999, "ok"),
    ):
        SyncAttempt.objects.create(
            kind=kind, item_id=item_id, owner=alice, outcome=outcome,
            started_at=now - timedelta(minutes=2), reason="timeout" if outcome == "failed" else "",
        )  # fmt: skip
    client.force_login(alice)
    html = client.get("/dashboard/").content.decode()
    assert "Lake house · VRBO" in html and "Nike Dunk Low" in html and "a removed feed" in html
    assert "The source does not answer in time" in html
    assert "calendars.feed #" not in html and "market.product #" not in html
    assert "2 minutes ago" in html
