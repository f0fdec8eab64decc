"""The ICS reader takes any bytes: each body ends in a parsed feed or in invalid_ics, never
in another exception (Hypothesis, on the same path the feed sync uses: check_body then
parse_feed)."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.ics.model import InvalidCalendar, ParsedFeed
from calendars.ics.parse import parse_feed
from calendars.services.feed_sync import check_body
from syncing.results import PermanentSyncError

TODAY = date(2026, 6, 1)
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Pacific/Kiritimati", "Nowhere/Zone"]

NAMES = [
    "UID",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RRULE",
    "RDATE",
    "EXDATE",
    "SUMMARY",
    "STATUS",
    "RECURRENCE-ID",
    "SEQUENCE",
    "TZID",
    "X-WR-TIMEZONE",
    "TZOFFSETFROM",
    "TZOFFSETTO",
]
PARAMS = ["", ";VALUE=DATE", ";TZID=Europe/Paris", ";TZID=Eastern Standard Time", ";TZID=\x00"]
VALUES = [
    "20260610",
    "20260610T140000Z",
    "20260610T140000",
    "99991231",
    "00010101",
    "20261332",
    "P1D",
    "PT-5H",
    "P999999999D",
    "FREQ=DAILY",
    "FREQ=DAILY;COUNT=100000",
    "FREQ=WEEKLY;UNTIL=20260101",
    "FREQ=YEARLY;BYDAY=-1SU;INTERVAL=0",
    "abc@x",
    "",
    "+0100",
    "-2400",
    "CANCELLED",
    "\u00e9\ud7ff",
    "x" * 300,
]


@st.composite
def ics_like(draw) -> bytes:
    """Calendars built from real property names and edge values, nested or broken."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0"]
    for _ in range(draw(st.integers(0, 4))):
        component = draw(st.sampled_from(["VEVENT", "VTIMEZONE", "STANDARD", "VTODO", "X"]))
        lines.append(f"BEGIN:{component}")
        for _ in range(draw(st.integers(0, 8))):
            name = draw(st.sampled_from(NAMES))
            param = draw(st.sampled_from(PARAMS))
            value = draw(st.sampled_from(VALUES) | st.text(max_size=30))
            lines.append(f"{name}{param}:{value}")
        if draw(st.booleans()):
            lines.append(f"END:{component}")
    if draw(st.booleans()):
        lines.append("END:VCALENDAR")
    text = "\r\n".join(lines)
    if draw(st.booleans()):  # fold somewhere, maybe inside a character
        at = draw(st.integers(0, len(text)))
        text = text[:at] + "\r\n " + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


def read(body: bytes, zone: str) -> None:
    try:
        check_body(body, "text/calendar")
        feed = parse_feed(body, default_tz=zone, today=TODAY, max_events=50)
    except PermanentSyncError as exc:
        assert exc.reason == "invalid_ics"
    except InvalidCalendar as exc:
        assert exc.reason == "invalid_ics"
    else:
        assert isinstance(feed, ParsedFeed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from(ZONES))
def test_any_bytes_end_in_a_feed_or_invalid_ics(body, zone):
    read(body, zone)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ics_like(), st.sampled_from(ZONES))
def test_any_calendar_like_body_ends_in_a_feed_or_invalid_ics(body, zone):
    read(body, zone)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500))
def test_bytes_after_a_valid_header_end_in_a_feed_or_invalid_ics(tail):
    read(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + tail, "UTC")
