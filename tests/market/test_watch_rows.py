"""The watchlist row (issue 12, points 2, 3, 4 and 7): the brand once, the tier as how
often prices are checked, "no prices yet" with when they are expected, an empty chart that
says why, a paused product that "Sync now" does not resume."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from market.models import Product, Watch
from tests.support.worker import purge_broker

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(alice):
    cache.clear()
    product = Product.objects.create(
        sku="FQ8080-133", name="Air Jordan 1 Low", brand="Jordan", tier="hot",
        next_sync_at=timezone.now() + timedelta(minutes=20),
    )  # fmt: skip
    yield Watch.objects.create(owner=alice, product=product)
    purge_broker()
    cache.clear()


def test_a_product_waiting_for_prices_says_when_they_come(client, alice, watched):
    client.force_login(alice)
    html = client.get(f"/market/watches/{watched.pk}/row/").content.decode()
    assert "Air Jordan 1 Low" in html and "Jordan Air Jordan" not in html
    assert "checked hourly" in html and ">hot<" not in html
    assert "first prices expected by" in html and "in 19 minutes" in html
    assert "No prices in the last 7 days to draw." in html
    assert 'hx-trigger="every 3s"' in html  # polls until its first prices arrive


def test_sync_now_leaves_a_paused_product_paused(client, alice, bob, watched):
    Product.objects.filter(pk=watched.product_id).update(paused=True, pause_reason="Unknown SKU.")
    client.force_login(alice)
    reply = client.post(f"/market/watches/{watched.pk}/sync/", HTTP_HX_REQUEST="true")
    html = reply.content.decode()
    assert "resume it to fetch prices again" in html and "Sync now" not in html
    assert Product.objects.get(pk=watched.product_id).paused
    client.force_login(bob)
    assert client.post(f"/market/watches/{watched.pk}/resume/").status_code == 404
    client.force_login(alice)
    client.post(f"/market/watches/{watched.pk}/resume/")
    assert not Product.objects.get(pk=watched.product_id).paused
