"""count_days must never place a live series' last occurrence too early (review of bd8e6d2):
a MONTHLY rule with an INTERVAL on the 29th-31st skips months for years."""

from __future__ import annotations

from datetime import date

import icalendar
import recurring_ical_events

from calendars.ics.blocks import count_days
from calendars.ics.parse import parse_feed


def _feed(rule: str, start: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:s@example.com\r\nDTSTART;VALUE=DATE:{start}\r\n"
        f"RRULE:{rule}\r\nSUMMARY:Owner stay\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_a_monthly_series_with_an_interval_on_the_31st_keeps_its_live_occurrence():
    # Every 5 months from January 31: June, November, April... have no 31st; the second
    # occurrence is July 31, 2027, 30 months on (past 2 * 5 * 62 days).
    body = _feed("FREQ=MONTHLY;INTERVAL=5;COUNT=2", "20250131")
    reference = [
        component["DTSTART"].dt
        for component in recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(
            date(2026, 11, 1), date(2028, 1, 1)
        )
    ]
    assert reference == [date(2027, 7, 31)]
    feed = parse_feed(body, today=date(2026, 12, 1))
    assert [event.start for event in feed.events] == reference


def test_count_days_refuses_monthly_intervals_and_keeps_the_plain_monthly_bound():
    assert count_days("RRULE:FREQ=MONTHLY;INTERVAL=12;COUNT=3") is None  # Feb 29: 4 years
    assert count_days("RRULE:FREQ=MONTHLY;INTERVAL=1;COUNT=2") == 125


def _reference(body: bytes) -> list:
    calendar = icalendar.Calendar.from_ical(body)
    between = recurring_ical_events.of(calendar).between(date(2026, 11, 1), date(2028, 12, 1))
    return sorted(component["DTSTART"].dt for component in between)


def _calendar(*blocks: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
    return (head + "".join(blocks) + "END:VCALENDAR\r\n").encode()


def _block(uid: str, start: str, *lines: str) -> str:
    extra = "".join(f"{line}\r\n" for line in lines)
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;VALUE=DATE:{start}\r\n{extra}END:VEVENT\r\n"


def test_old_count_series_with_unusual_parts_keep_their_live_occurrences():
    body = _calendar(
        # An RDATE added to an old series ended by COUNT.
        _block("rdate@x", "20210104", "RRULE:FREQ=WEEKLY;COUNT=2", "RDATE;VALUE=DATE:20261215"),
        # BYSETPOS, BYMONTHDAY and ordinal BYDAY: unsure, decoded.
        _block("setpos@x", "20210101", "RRULE:FREQ=MONTHLY;COUNT=80;BYDAY=MO,TU;BYSETPOS=-1"),
        _block("monthday@x", "20210115", "RRULE:FREQ=MONTHLY;COUNT=75;BYMONTHDAY=15"),
        _block("ordinal@x", "20210104", "RRULE:FREQ=MONTHLY;COUNT=75;BYDAY=1MO"),
        # An override moving an old occurrence of an old series into the window.
        _block("moved@x", "20210104", "RRULE:FREQ=WEEKLY;COUNT=3"),
        _block("moved@x", "20261220", "RECURRENCE-ID;VALUE=DATE:20210111"),
    )
    feed = parse_feed(body, today=date(2026, 12, 1))
    assert sorted(event.start for event in feed.events) == _reference(body)
    assert {event.uid.partition("@")[0] for event in feed.events} >= {
        "rdate",
        "setpos",
        "monthday",
        "ordinal",
        "moved",
    }
