"""Alarms are claimed earliest ring first, whatever each alarm's lead."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from syncing.kinds import get_kind
from syncing.services.claims import claim_due_items
from tests.alarms.conftest import make_alarm, utc

pytestmark = pytest.mark.django_db
KIND = "alarms.alarm"
NOW = utc(2025, 6, 2, 4, 0)  # Monday 06:00 in Berlin


def test_the_kind_says_its_claim_order():
    assert get_kind(KIND).claim_order == "next_ring_at"


def test_the_alarm_ringing_soonest_is_claimed_first(alice, clock_at):
    clock_at(NOW - timedelta(hours=1))
    # Rings in 10 h with a 12 h lead: due since 2 h. Rings in 20 min, lead 58: due 38 min ago.
    late_ring = make_alarm(alice, at=time(16, 0), lead_minutes=12 * 60)
    soon_ring = make_alarm(alice, at=time(6, 20), lead_minutes=58)
    assert late_ring.next_sync_at < soon_ring.next_sync_at < NOW
    assert soon_ring.next_ring_at < late_ring.next_ring_at

    claim = claim_due_items(get_kind(KIND), "1d", 1, now=NOW)

    assert claim.pks == [soon_ring.pk]
