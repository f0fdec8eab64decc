"""The export feed: valid iCalendar, UTC or all-day dates, stable bytes, and a round trip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import icalendar

from calendars.ics import build_calendar, parse_feed
from calendars.ics.export import clean_text

DOMAIN = "cal.syncbeat.app"


@dataclass
class Item:
    export_uid: str
    start: date | datetime
    end: date | datetime
    all_day: bool
    summary: str
    dtstamp: datetime | None = None


EVENTS = [
    Item("ev-2", datetime(2025, 7, 10, 16, tzinfo=timezone(timedelta(hours=2))),
         datetime(2025, 7, 10, 18, tzinfo=timezone(timedelta(hours=2))), False,
         "Owner visit; keys, gate\\code", datetime(2025, 6, 1, 12, tzinfo=UTC)),
    Item("ev-1", date(2025, 7, 1), date(2025, 7, 4), True, "Reserved"),
    Item("already@elsewhere.example", date(2025, 8, 1), date(2025, 8, 1), True, "Blocked"),
]  # fmt: skip


def test_export_is_valid_icalendar_with_the_required_properties():
    body = build_calendar(name="Beach house", events=EVENTS, domain=DOMAIN)
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//Syncbeat//Calendar export//EN"
    assert str(calendar["CALSCALE"]) == "GREGORIAN" and str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Beach house"
    vevents = calendar.walk("VEVENT")
    assert [str(v["UID"]) for v in vevents] == [
        "ev-1@cal.syncbeat.app",
        "ev-2@cal.syncbeat.app",
        "already@elsewhere.example",
    ]
    for vevent in vevents:
        assert "DTSTAMP" in vevent and str(vevent["TRANSP"]) == "OPAQUE"
        assert str(vevent["STATUS"]) == "CONFIRMED"
    assert b"DTSTART;VALUE=DATE:20250701\r\nDTEND;VALUE=DATE:20250704" in body
    assert b"DTSTART:20250710T140000Z\r\nDTEND:20250710T160000Z" in body
    assert b"DTSTART;VALUE=DATE:20250801\r\nDTEND;VALUE=DATE:20250802" in body  # one day
    assert b"DTSTAMP:20250601T120000Z" in body and b"DTSTAMP:19700101T000000Z" in body


def test_export_is_deterministic_whatever_the_input_order():
    first = build_calendar(name="Beach house", events=EVENTS, domain=DOMAIN)
    again = build_calendar(name="Beach house", events=list(reversed(EVENTS)), domain=DOMAIN)
    assert first == again
    stamped = build_calendar(
        name="Beach house", events=EVENTS, domain=DOMAIN, now=datetime(2025, 7, 1, 8, tzinfo=UTC)
    )
    assert b"DTSTAMP:20250701T080000Z" in stamped and b"19700101" not in stamped


def test_export_round_trips_through_parse_feed():
    body = build_calendar(name="Beach house", events=EVENTS, domain=DOMAIN)
    parsed = parse_feed(body, today=date(2025, 7, 1), own_domain="example-other")
    assert parsed.calendar_name == "Beach house" and parsed.skipped == []
    got = {e.uid: (e.start, e.end, e.all_day, e.summary, e.blocking) for e in parsed.events}
    assert got == {
        "ev-1@cal.syncbeat.app": (date(2025, 7, 1), date(2025, 7, 4), True, "Reserved", True),
        "ev-2@cal.syncbeat.app": (
            datetime(2025, 7, 10, 14, tzinfo=UTC),
            datetime(2025, 7, 10, 16, tzinfo=UTC),
            False,
            "Owner visit; keys, gate\\code",
            True,
        ),
        "already@elsewhere.example": (date(2025, 8, 1), date(2025, 8, 2), True, "Blocked", True),
    }
    # Our own export read back by us is an echo: ignored.
    echoed = parse_feed(body, today=date(2025, 7, 1), own_domain="syncbeat")
    assert [e.uid for e in echoed.events] == ["already@elsewhere.example"]


def test_empty_export_is_a_valid_empty_calendar():
    body = build_calendar(name="Empty", events=[], domain=DOMAIN)
    assert parse_feed(body).events == []


def test_control_characters_are_replaced_and_never_break_the_calendar():
    name = "Beach\r\nhouse\x00\x01 sea\tview\x7f \u00e9t\u00e9"
    events = [Item("c-1", date(2025, 7, 1), date(2025, 7, 3), True, "Owner\r\nstay\x00\x1b")]
    body = build_calendar(name=name, events=events, domain=DOMAIN)
    for byte in [*range(0, 9), 11, 12, *range(14, 32), 127]:
        assert bytes([byte]) not in body
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Beach house sea view \u00e9t\u00e9"
    assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == "Owner stay"
    assert clean_text("\x00\r\n") == "" and clean_text("plain") == "plain"


def test_zero_length_timed_events_are_left_out():
    at = datetime(2025, 7, 10, 10, tzinfo=UTC)
    events = [
        Item("zero", at, at, False, "Key handover"),
        Item("backwards", at, at - timedelta(hours=1), False, "Typo"),
        Item("kept", at, at + timedelta(minutes=1), False, "Short"),
        Item("day", date(2025, 7, 10), date(2025, 7, 10), True, "One day"),
    ]
    body = build_calendar(name="Beach house", events=events, domain=DOMAIN)
    uids = [str(v["UID"]) for v in icalendar.Calendar.from_ical(body).walk("VEVENT")]
    assert uids == ["day@cal.syncbeat.app", "kept@cal.syncbeat.app"]
