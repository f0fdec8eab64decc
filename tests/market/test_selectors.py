from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from market.models import PriceSnapshot, Product, Watch
from market.selectors import moved_products_for_briefing


def snapshot(product, ask, at):
    return PriceSnapshot.objects.create(
        product=product,
        provider="stockx",
        region="US",
        size="10",
        currency="USD",
        lowest_ask=Decimal(ask),
        captured_at=at,
    )


@pytest.mark.django_db
def test_the_briefing_lists_watched_products_that_moved_biggest_first(alice, bob):
    now = timezone.now()
    mover = Product.objects.create(sku="AAA-1", name="Mover", tier="hot")
    big = Product.objects.create(sku="BBB-2", name="Big mover", tier="hot")
    flat = Product.objects.create(sku="CCC-3", name="Flat", tier="hot")
    theirs = Product.objects.create(sku="DDD-4", name="Bob's", tier="hot")
    for product, before, after in [
        (mover, "100.00", "105.00"),
        (big, "200.00", "170.00"),
        (flat, "50.00", "50.50"),
        (theirs, "10.00", "20.00"),
    ]:
        snapshot(product, before, now - timedelta(hours=20))
        snapshot(product, after, now - timedelta(minutes=5))
    for product in (mover, big, flat):
        Watch.objects.create(owner=alice, product=product)
    Watch.objects.create(owner=bob, product=theirs)

    moves = moved_products_for_briefing(alice, now - timedelta(days=1))

    assert moves == [("Big mover", Decimal("-15.0")), ("Mover", Decimal("5.0"))]
