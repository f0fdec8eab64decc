"""Next ring across daylight-saving changes, in zones on both sides of UTC."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from alarms.services.schedule import Rule, next_ring, rings_between
from tests.alarms.conftest import utc

EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]

# Spring forward: 02:30 does not exist that day; it rings when the clocks resume (03:00).
SPRING_FORWARD = [
    ("America/New_York", date(2025, 3, 9), utc(2025, 3, 9, 7, 0)),  # 03:00 EDT (-4)
    ("Europe/Berlin", date(2025, 3, 30), utc(2025, 3, 30, 1, 0)),  # 03:00 CEST (+2)
    ("Australia/Sydney", date(2025, 10, 5), utc(2025, 10, 4, 16, 0)),  # 03:00 AEDT (+11)
    ("Pacific/Auckland", date(2025, 9, 28), utc(2025, 9, 27, 14, 0)),  # 03:00 NZDT (+13)
]
# Fall back: the time occurs twice; it rings once, at the first (still summer time).
FALL_BACK = [
    ("America/New_York", date(2025, 11, 2), time(1, 30), utc(2025, 11, 2, 5, 30)),  # EDT
    ("Europe/Berlin", date(2025, 10, 26), time(2, 30), utc(2025, 10, 26, 0, 30)),  # CEST
    ("Australia/Sydney", date(2025, 4, 6), time(2, 30), utc(2025, 4, 5, 15, 30)),  # AEDT
    ("Pacific/Auckland", date(2025, 4, 6), time(2, 30), utc(2025, 4, 5, 13, 30)),  # NZDT
]


@pytest.mark.parametrize(("zone", "day", "expected"), SPRING_FORWARD)
def test_a_skipped_time_rings_at_the_first_valid_minute_after(zone, day, expected):
    one_off = Rule(time=time(2, 30), timezone=zone, days=[], date=day)
    assert next_ring(one_off, utc(2025, 1, 1)) == expected
    daily = Rule(time=time(2, 30), timezone=zone, days=EVERY_DAY)
    assert next_ring(daily, expected - timedelta(hours=20)) == expected


@pytest.mark.parametrize(("zone", "day", "at", "expected"), FALL_BACK)
def test_a_repeated_time_rings_once_at_the_first(zone, day, at, expected):
    one_off = Rule(time=at, timezone=zone, days=[], date=day)
    assert next_ring(one_off, utc(2025, 1, 1)) == expected
    daily = Rule(time=at, timezone=zone, days=EVERY_DAY)
    rings = rings_between(daily, expected - timedelta(hours=12), expected + timedelta(hours=12))
    assert rings == [expected]  # not again an hour later, in winter time


def test_a_daily_alarm_keeps_its_local_time_across_both_changes():
    rule = Rule(time=time(7, 0), timezone="America/New_York", days=EVERY_DAY)
    spring = rings_between(rule, utc(2025, 3, 7), utc(2025, 3, 11))
    assert spring == [
        utc(2025, 3, 7, 12),
        utc(2025, 3, 8, 12),
        utc(2025, 3, 9, 11),
        utc(2025, 3, 10, 11),
    ]
    autumn = rings_between(rule, utc(2025, 10, 31), utc(2025, 11, 4))
    assert autumn == [
        utc(2025, 10, 31, 11),
        utc(2025, 11, 1, 11),
        utc(2025, 11, 2, 12),
        utc(2025, 11, 3, 12),
    ]


def test_southern_hemisphere_changes_the_other_way():
    rule = Rule(time=time(7, 0), timezone="Australia/Sydney", days=EVERY_DAY)
    # April: summer time ends (+11 -> +10); October: it starts (+10 -> +11).
    assert rings_between(rule, utc(2025, 4, 4, 12), utc(2025, 4, 6, 22)) == [
        utc(2025, 4, 4, 20),
        utc(2025, 4, 5, 21),
        utc(2025, 4, 6, 21),
    ]
    assert rings_between(rule, utc(2025, 10, 3, 12), utc(2025, 10, 5, 22)) == [
        utc(2025, 10, 3, 21),
        utc(2025, 10, 4, 20),
        utc(2025, 10, 5, 20),
    ]


def test_a_zone_without_dst_and_a_half_hour_offset():
    rule = Rule(time=time(7, 0), timezone="Asia/Kolkata", days=EVERY_DAY)
    rings = rings_between(rule, utc(2025, 1, 1), utc(2026, 1, 1))
    assert len(rings) == 365
    assert {(r.hour, r.minute) for r in rings} == {(1, 30)}


def test_a_skipped_time_on_a_repeating_alarm_returns_to_normal_the_next_day():
    rule = Rule(time=time(2, 30), timezone="Europe/Berlin", days=EVERY_DAY)
    assert rings_between(rule, utc(2025, 3, 29, 12), utc(2025, 3, 31, 12)) == [
        utc(2025, 3, 30, 1, 0),
        utc(2025, 3, 31, 0, 30),
    ]


def test_repeating_alarms_roll_to_the_next_day_in_days():
    weekdays = Rule(time=time(6, 45), timezone="Europe/Berlin", days=[0, 2])  # Mon, Wed
    friday_noon = utc(2025, 6, 6, 12)
    monday = next_ring(weekdays, friday_noon)
    assert monday == utc(2025, 6, 9, 4, 45)
    assert next_ring(weekdays, monday) == utc(2025, 6, 11, 4, 45)  # strictly after


def test_the_local_weekday_decides_not_the_utc_one():
    # Auckland Monday 06:00 is Sunday 18:00 UTC.
    rule = Rule(time=time(6, 0), timezone="Pacific/Auckland", days=[0])
    assert next_ring(rule, utc(2025, 6, 8, 12)) == utc(2025, 6, 8, 18)


def test_one_off_rings_once_then_never():
    rule = Rule(time=time(9, 15), timezone="America/New_York", days=[], date=date(2025, 7, 4))
    ring = next_ring(rule, utc(2025, 7, 1))
    assert ring == utc(2025, 7, 4, 13, 15)
    assert next_ring(rule, ring) is None
    assert (
        next_ring(Rule(time=time(9), timezone="UTC", days=[], date=None), utc(2025, 1, 1)) is None
    )
