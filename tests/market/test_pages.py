"""Owner pages: watchlist with prices, change and chart; add by SKU; alerts; IDOR."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from market.models import PriceSnapshot, Watch, WatchAlert
from tests.market.conftest import make_product, watch

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_web(client, alice):
    client.force_login(alice)
    return client


def test_the_watchlist_shows_price_change_since_yesterday_and_a_chart(alice_web, alice):
    product = make_product("PAGE-1", brand="Nike")
    watch(alice, product)
    now = timezone.now()
    for hours, ask in [(30, "200.00"), (20, "210.00"), (1, "190.00")]:
        PriceSnapshot.objects.create(
            product=product,
            provider="alias",
            region="US",
            size="10",
            currency="USD",
            lowest_ask=Decimal(ask),
            captured_at=now - timedelta(hours=hours),
        )

    html = alice_web.get("/market/").content.decode()

    assert "PAGE-1" in html
    assert "190.00 USD" in html
    assert "-10.00 (-5.0%)" in html  # against the last price at least a day old
    assert "<svg" in html and "<polyline" in html


def test_adding_a_product_by_sku_from_the_page(alice_web, alice):
    response = alice_web.post("/market/", {"sku": "PAGE-NEW"})
    assert response.status_code == 302
    assert Watch.objects.filter(owner=alice, product__sku="PAGE-NEW").exists()


def test_setting_an_alert_from_the_page(alice_web, alice):
    w = watch(alice, make_product("PAGE-2"), baseline_price=Decimal("5.00"), crossed=True)
    response = alice_web.post(
        f"/market/watches/{w.pk}/alert/",
        {"threshold_price": "99.90", "direction": "above", "region": "UK", "size": ""},
    )
    assert response.status_code == 302
    w.refresh_from_db()
    assert (w.threshold_price, w.direction, w.region) == (Decimal("99.90"), "above", "UK")
    assert w.baseline_price is None and not w.crossed  # re-armed


@pytest.mark.parametrize(
    "suffix, method",
    [("alert/", "get"), ("alert/", "post"), ("delete/", "post"), ("sync/", "post")],
)
def test_another_owners_watch_pages_are_404(alice_web, bob, suffix, method):
    w = watch(bob, make_product("BOBS"))
    response = getattr(alice_web, method)(f"/market/watches/{w.pk}/{suffix}")
    assert response.status_code == 404
    assert Watch.objects.filter(pk=w.pk).exists()


def test_alerts_show_on_the_dashboard_until_seen(alice_web, alice, bob):
    w = watch(alice, make_product("DASH-1"))
    WatchAlert.objects.create(
        watch=w, price=Decimal("1.00"), currency="USD", message="DASH-1 fell below 2.00 USD"
    )
    bobs = watch(bob, make_product("DASH-2"))
    WatchAlert.objects.create(
        watch=bobs, price=Decimal("1.00"), currency="USD", message="DASH-2 is Bob's"
    )

    html = alice_web.get("/dashboard/").content.decode()
    assert "DASH-1 fell below" in html and "Bob" not in html

    alice_web.post("/market/alerts/seen/", {"next": "https://evil.example/"})
    assert not WatchAlert.objects.filter(watch=w, seen=False).exists()
    assert WatchAlert.objects.filter(watch=bobs, seen=False).exists()


def test_pages_need_login(client):
    response = client.get("/market/")
    assert response.status_code == 302 and "/login/" in response["Location"]
