"""capacity for alarms answers for the busiest ring window, not the day's average."""

from __future__ import annotations

from datetime import time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from alarms.services.capacity import busiest_window
from syncing.models import SyncAttempt
from syncing.monitoring.capacity import estimate
from syncing.plans import account_set_plan
from tests.alarms.conftest import make_alarm

pytestmark = pytest.mark.django_db
KIND = "alarms.alarm"


def measured(n=60, duration_ms=800):
    now = timezone.now()
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind=KIND,
            item_id=i,
            tier="1d",
            started_at=now - timedelta(minutes=i),
            duration_ms=duration_ms,
            outcome="ok",
            items_changed=1,
        )
        for i in range(n)
    )


def capacity(*args) -> str:
    out = StringIO()
    call_command("capacity", "--kind", KIND, *args, stdout=out)
    return out.getvalue()


def test_alarms_all_at_seven_are_sized_for_the_peak(alice):
    account_set_plan(alice, "realtime")  # room for 30 alarms
    for _ in range(30):
        make_alarm(alice, at=time(7, 0), timezone="Europe/Berlin")
    measured()

    text = capacity("--items", "100000")

    # 100,000 rings in one minute, generated within 57 minutes (58 lead - 1 deadline).
    result = estimate(KIND, 100_000)
    assert result.basis == "peak"
    assert result.syncs_per_second == pytest.approx(100_000 / (57 * 60), rel=0.01)  # ~29/s
    assert result.average_per_second == pytest.approx(100_000 / 86400, rel=0.01)
    assert "Sized for the peak: 29.2 syncs/s" in text
    assert "100% of 30 alarms here ring at 0" in text  # 05:00 or 06:00 UTC by season
    # cpu queue, one briefing per process at a time, 0.8 s each: 29.2 x 0.8 x 1.3 -> 31.
    assert result.processes == 31
    assert "Worker processes: 31 " in text


def test_alarms_spread_over_the_day_need_far_less(alice):
    account_set_plan(alice, "realtime")
    for hour in range(24):
        make_alarm(alice, at=time(hour, 0), timezone="UTC")
    measured()

    result = estimate(KIND, 100_000)

    # The busiest 57-minute window holds one hour's rings: 1/24 of them.
    assert result.basis == "peak"
    assert result.syncs_per_second == pytest.approx(100_000 / 24 / (57 * 60), rel=0.01)
    assert result.processes < 3


def test_without_alarms_it_assumes_the_worst_and_says_so():
    measured()
    text = capacity("--items", "1000")
    assert "no alarms yet: assumed all ring at once" in text


def test_the_busiest_window_wraps_at_midnight():
    per_minute = {1435: 5, 2: 5, 600: 7}
    assert busiest_window(per_minute, 10) == (1433, 10)
    assert busiest_window(per_minute, 1) == (600, 7)
