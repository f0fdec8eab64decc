"""Issue 13 goal 3: a series ended by COUNT is placed by a string scan (blocks.count_days),
so an old one is left undecoded like a series with an UNTIL in the past."""

from __future__ import annotations

from datetime import date

from calendars.ics.blocks import count_days
from calendars.ics.parse import parse_feed


def test_count_days_bounds_the_plain_rules_and_refuses_the_rest():
    assert count_days("RRULE:FREQ=DAILY;COUNT=5") == 6
    assert count_days("RRULE:FREQ=WEEKLY;WKST=MO;COUNT=10;INTERVAL=2;BYDAY=TH") == 141
    assert count_days("RRULE:FREQ=DAILY;COUNT=3;BYDAY=MO,WE") == 22
    assert count_days("RRULE:FREQ=MONTHLY;COUNT=2") == 125
    assert count_days("RRULE:FREQ=YEARLY;COUNT=1") == 366 * 8 + 1
    for unsure in (
        "RRULE:FREQ=WEEKLY",  # endless
        "RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=1MO",
        "RRULE:FREQ=WEEKLY;COUNT=3;BYDAY=-1FR",
        "RRULE:FREQ=YEARLY;COUNT=3;BYMONTH=2",
        "RRULE:FREQ=HOURLY;COUNT=3",
        "RRULE:FREQ=DAILY;COUNT=x",
        "RRULE;X=Y:FREQ=DAILY;COUNT=3",
    ):
        assert count_days(unsure) is None, unsure


def _series(uid: str, start: str, count: int) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;VALUE=DATE:{start}\r\n"
        f"DTEND;VALUE=DATE:{start[:6]}{int(start[6:]) + 1:02d}\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT={count};BYDAY=MO\r\nSUMMARY:Class\r\nEND:VEVENT\r\n"
    )


def test_an_old_series_ended_by_count_is_not_decoded_and_a_current_one_is():
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
        + _series("old@example.com", "20210104", 10)
        + _series("current@example.com", "20261207", 3)
        + "END:VCALENDAR\r\n"
    ).encode()
    feed = parse_feed(body, today=date(2026, 12, 1))
    assert feed.decoded == 1
    assert sorted(event.start.isoformat() for event in feed.events) == [
        "2026-12-07",
        "2026-12-14",
        "2026-12-21",
    ]
