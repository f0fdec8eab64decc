"""Issue 13 goal 3: parse_feed decodes the blocks in chunks (so only one chunk's icalendar
components are in memory at a time); the result is the same as decoding them at once."""

from __future__ import annotations

from datetime import date

import pytest

from calendars.ics import parse
from calendars.ics.parse import parse_feed
from tests.calendars.test_realworld import FILES

TODAY = date(2026, 12, 1)
# The corpus files small enough for a quick test (the two largest are benchmarked instead).
SMALL = [path for path in FILES if path.stat().st_size < 300_000]


def _parsed(body: bytes, today: date):
    feed = parse_feed(body, default_tz="Europe/Paris", today=today, max_events=5000)
    # The occurrences of one series come in recurring-ical-events' order, which is not the
    # blocks' (extra RECURRENCE-IDs): compared as a set.
    return (
        sorted(feed.events, key=lambda event: (event.uid, str(event.start))),
        sorted(feed.skipped),
        feed.decoded,
        feed.calendar_name,
        feed.covered_until,
        feed.truncated,
        feed.left_out,
        feed.unknown_tzids,
    )


@pytest.mark.skipif(not SMALL, reason="no real-world calendars (../shared/realworld-ics)")
def test_chunks_of_a_few_blocks_read_every_corpus_feed_as_one_chunk_does(monkeypatch):
    differing = []
    for path in SMALL:
        body = path.read_bytes()
        first = body.find(b"DTSTART")
        own_day = TODAY
        if first >= 0:
            digits = body[first : first + 60].split(b":", 1)[-1][:8]
            if digits.isdigit():
                own_day = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        for today in (TODAY, own_day):
            monkeypatch.setattr(parse, "CHUNK_BLOCKS", 10**9)
            try:
                whole = _parsed(body, today)
            except parse.InvalidCalendar:
                continue
            monkeypatch.setattr(parse, "CHUNK_BLOCKS", 3)
            if _parsed(body, today) != whole:
                differing.append((path.name, today))
    assert differing == []


def test_a_feed_of_many_blocks_with_x_wr_timezone_reads_the_same_in_chunks(monkeypatch):
    events = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:e{n}@example.com\r\n"
        f"DTSTART:202701{1 + n % 28:02d}T{n % 24:02d}0000\r\n"
        f"DTEND:202701{1 + n % 28:02d}T{n % 24:02d}3000\r\n"
        f"SUMMARY:Event {n}\r\n"
        "END:VEVENT\r\n"
        for n in range(40)
    )
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nX-WR-CALNAME:Many\r\n"
        f"X-WR-TIMEZONE:America/New_York\r\n{events}END:VCALENDAR\r\n"
    ).encode()
    monkeypatch.setattr(parse, "CHUNK_BLOCKS", 10**9)
    whole = _parsed(body, TODAY)
    monkeypatch.setattr(parse, "CHUNK_BLOCKS", 7)
    assert _parsed(body, TODAY) == whole
    assert len(whole[0]) == 40 and whole[3] == "Many"
