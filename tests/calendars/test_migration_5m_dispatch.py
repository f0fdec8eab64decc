"""calendars 0008: the feeds' 5-minute tier, dispatched every minute until now, moves to every
30 s; a staff edit to another period and the other tiers are left alone, and the backward
step puts the minute back."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps

from calendars.kinds import FEED_KIND
from syncing.models import Tier

migration = importlib.import_module("calendars.migrations.0008_feed_5m_dispatch_half_minute")
MINUTE, HALF_MINUTE = timedelta(minutes=1), timedelta(seconds=30)


def periods(**set_to: timedelta) -> dict[str, timedelta]:
    for key, every in set_to.items():
        Tier.objects.filter(kind=FEED_KIND, key=key).update(dispatch_every=every)
    return dict(Tier.objects.filter(kind=FEED_KIND).values_list("key", "dispatch_every"))


@pytest.mark.django_db
def test_the_5m_tier_at_a_minute_moves_to_30_s_and_back():
    before = periods(**{"5m": MINUTE})
    migration.forwards(apps, None)
    after = periods()
    assert after == {**before, "5m": HALF_MINUTE}
    migration.backwards(apps, None)
    assert periods() == before


@pytest.mark.django_db
def test_a_staff_edit_to_another_period_is_left_alone():
    before = periods(**{"5m": timedelta(minutes=2), "1h": MINUTE})
    migration.forwards(apps, None)
    assert periods() == before
