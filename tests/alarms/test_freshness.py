"""Alarms' freshness counts rings: the share whose briefing was ready in time. A weekday
alarm is not late on the weekend, and the on-time-rate alert follows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alarms.models import Alarm, Briefing, BriefingStatus
from alarms.services.deadlines import sweep
from syncing.monitoring.alerts import ensure_default_rules, evaluate_rule
from syncing.monitoring.freshness import freshness_report
from syncing.monitoring.models import AlertRule
from tests.alarms.conftest import make_alarm, utc
from tests.alarms.test_sync import run

pytestmark = pytest.mark.django_db
KIND = "alarms.alarm"
# Friday 6 June 2025, 07:00 in Berlin = 05:00Z; the weekend follows.
FRIDAY_RING = utc(2025, 6, 6, 5, 0)
SUNDAY_NOON = utc(2025, 6, 8, 12, 0)
MONDAY_RING = utc(2025, 6, 9, 5, 0)


def alarms_freshness(now):
    (row,) = freshness_report(now, kind=KIND)
    return row


def on_time_rule():
    ensure_default_rules()
    return AlertRule.objects.get(key="on-time-rate")


def test_a_weekday_alarm_is_not_late_on_the_weekend(alice, clock_at):
    clock_at(FRIDAY_RING - timedelta(minutes=58))
    alarm = make_alarm(alice, days=(0, 1, 2, 3, 4))
    assert run(alarm).outcome == "ok"
    sweep(clock_at(FRIDAY_RING + timedelta(minutes=1)))  # rung: rolled on to Monday
    alarm.refresh_from_db()
    assert alarm.next_ring_at == MONDAY_RING

    friday = alarms_freshness(FRIDAY_RING + timedelta(minutes=5))
    assert (friday.items, friday.on_time, friday.on_time_rate) == (1, 1, 100.0)
    assert friday.unit == "rings"

    sunday = alarms_freshness(SUNDAY_NOON)
    assert sunday.items == 0 and sunday.on_time_rate is None  # no ring: nothing to judge
    assert sunday.stalest_age == timedelta(0)
    assert not [f for f in evaluate_rule(on_time_rule(), SUNDAY_NOON) if KIND in f.subject]


def test_a_ring_that_got_the_fallback_is_late_and_opens_the_alert(
    alice, bob, clock_at, settings, allow_private_urls
):
    from tests.support.http import Reply, local_server

    clock_at(MONDAY_RING - timedelta(minutes=58))
    good = make_alarm(alice)
    assert run(good).outcome == "ok"
    settings.ALARMS_TTS_ENGINE = "speech-api"
    settings.FETCH_RETRIES = 0
    with local_server({"/v1/audio/speech": Reply(503, b"down")}) as server:
        settings.SPEECH_API_BASE_URL = server.url
        bad = make_alarm(bob)
        assert run(bad).outcome == "failed"
    sweep(clock_at(MONDAY_RING - timedelta(seconds=30)))  # the deadline: fallback
    assert Briefing.objects.get(alarm=bad).status == BriefingStatus.FALLBACK

    now = MONDAY_RING + timedelta(minutes=5)
    row = alarms_freshness(now)
    assert (row.items, row.on_time, row.late, row.on_time_rate) == (2, 1, 1, 50.0)
    (firing,) = [f for f in evaluate_rule(on_time_rule(), now) if KIND in f.subject]
    assert firing.value == 50.0
    assert "1 of 2 rings late" in firing.message


def test_a_ring_the_sweep_never_handled_counts_as_late(alice, clock_at):
    clock_at(MONDAY_RING - timedelta(hours=3))
    alarm = make_alarm(alice)
    # Nothing ran: no briefing, no sweep; the ring passed ten minutes ago.
    assert Alarm.objects.get(pk=alarm.pk).next_ring_at == MONDAY_RING
    row = alarms_freshness(MONDAY_RING + timedelta(minutes=10))
    assert (row.items, row.on_time) == (1, 0)
    assert row.stalest_age >= timedelta(minutes=68)  # due at ring - 58 min, still waiting
