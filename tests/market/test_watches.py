"""Alerts: told once per crossing (email and dashboard), re-armed when the price comes back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from market.marketsim.prices import product_uuid
from market.models import Watch, WatchAlert
from market.services.watches import stable_price
from tests.market.conftest import make_product, set_price, watch
from tests.market.helpers import sync

pytestmark = pytest.mark.django_db


def run(product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        attempt = sync(product)
    assert attempt.outcome == "ok", attempt.message
    return attempt


def test_a_price_alert_fires_once_per_crossing_and_re_arms(
    sim, alice, bob, django_capture_on_commit_callbacks
):
    product = make_product("AL-1")
    w = watch(alice, product, threshold_price=Decimal("190.00"), direction="below")
    quiet = watch(bob, product)  # no alert set: never told

    set_price(sim, "AL-1", "200.00")
    run(product, django_capture_on_commit_callbacks)
    assert WatchAlert.objects.count() == 0 and mail.outbox == []

    set_price(sim, "AL-1", "185.50")
    attempt = run(product, django_capture_on_commit_callbacks)
    assert attempt.counts["alerts"] == 1
    alert = WatchAlert.objects.get()
    assert alert.watch == w and alert.price == Decimal("185.50") and alert.currency == "USD"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "185.50 USD" in mail.outbox[0].body

    set_price(sim, "AL-1", "180.00")  # still below: no news
    run(product, django_capture_on_commit_callbacks)
    assert WatchAlert.objects.count() == 1 and len(mail.outbox) == 1
    w.refresh_from_db()
    assert w.crossed and w.last_notified_price == Decimal("185.50")
    assert w.last_price == Decimal("180.00")

    set_price(sim, "AL-1", "195.00")  # back above: re-armed silently
    run(product, django_capture_on_commit_callbacks)
    w.refresh_from_db()
    assert not w.crossed and len(mail.outbox) == 1

    set_price(sim, "AL-1", "189.99")  # the next crossing is news again
    run(product, django_capture_on_commit_callbacks)
    assert WatchAlert.objects.count() == 2 and len(mail.outbox) == 2
    quiet.refresh_from_db()
    assert quiet.last_price == Decimal("189.99") and not quiet.crossed


def test_a_percent_alert_measures_from_the_first_price_seen(
    sim, alice, django_capture_on_commit_callbacks
):
    product = make_product("PCT-1")
    w = watch(alice, product, threshold_percent=Decimal("10"), direction="either")

    set_price(sim, "PCT-1", "100.00")
    run(product, django_capture_on_commit_callbacks)
    w.refresh_from_db()
    assert w.baseline_price == Decimal("100.00") and not w.crossed

    set_price(sim, "PCT-1", "111.00")
    run(product, django_capture_on_commit_callbacks)
    assert WatchAlert.objects.filter(watch=w).count() == 1
    assert "moved past 10.00% from 100.00 USD" in WatchAlert.objects.get().message


def test_watches_follow_their_own_region(sim, alice, django_capture_on_commit_callbacks):
    product = make_product("REG-1")
    watch(alice, product, region="UK", threshold_price=Decimal("10000"), direction="below")

    run(product, django_capture_on_commit_callbacks)

    alert = WatchAlert.objects.get()
    assert alert.currency == "GBP"
    assert Watch.objects.get().crossed


def test_a_crossing_is_sent_to_the_owners_webhooks_once(
    sim, alice, bob, django_capture_on_commit_callbacks
):
    from syncing.models import WebhookDelivery
    from syncing.webhooks.services import endpoint_create

    mine = endpoint_create(alice, url="https://hooks.example.com/a", events=["price.crossed"])
    endpoint_create(bob, url="https://hooks.example.com/b", events=["price.crossed"])
    product = make_product("WH-1")
    watch(alice, product, threshold_price=Decimal("190.00"), direction="below")
    for price in ("200.00", "185.50", "180.00"):
        set_price(sim, "WH-1", price)
        run(product, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == mine and delivery.event_type == "price.crossed"
    assert delivery.payload["sku"] == "WH-1" and delivery.payload["price"] == "185.50"


def test_one_alert_per_crossing_when_a_provider_drops_out_and_returns(
    sim, alice, django_capture_on_commit_callbacks
):
    """StockX asks 180, the other provider 200: the stable price is their median, 190.
    StockX failing (its last ask stays in the median) and coming back changes nothing."""
    product = make_product("FLAP-1")
    w = watch(alice, product, threshold_price=Decimal("195.00"), direction="below")
    sim.overrides[product_uuid("FLAP-1")] = {"lowest_ask": "180.00"}
    sim.overrides["FLAP-1"] = {"lowest_ask": "200.00"}

    run(product, django_capture_on_commit_callbacks)
    w.refresh_from_db()
    assert w.crossed and w.last_price == Decimal("190.00")
    assert WatchAlert.objects.count() == 1

    sim.fail_prefixes = {"/stockx"}  # StockX drops out: a partial sync
    attempt = run(product, django_capture_on_commit_callbacks)
    assert attempt.reason == "partial"
    assert attempt.retries >= 1  # the fetcher retried StockX's 500s before giving up
    w.refresh_from_db()
    assert w.crossed and w.last_price == Decimal("190.00")

    sim.fail_prefixes = set()  # and comes back
    run(product, django_capture_on_commit_callbacks)
    w.refresh_from_db()
    assert w.crossed
    assert WatchAlert.objects.count() == 1 and len(mail.outbox) == 1


def test_the_stable_price_is_the_median_in_the_majority_currency():
    asks = {
        "a": (Decimal("100.00"), "USD"),
        "b": (Decimal("300.00"), "USD"),
        "c": (Decimal("120.00"), "USD"),
        "d": (Decimal("1.00"), "EUR"),
    }
    assert stable_price(asks) == (Decimal("120.00"), "USD")
    del asks["c"]
    assert stable_price(asks) == (Decimal("200.00"), "USD")
    assert stable_price({}) is None
