"""The import contract of issue 3, rule by rule, on feeds shaped like the channels' own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from calendars.ics import InvalidCalendar, parse_feed

FEEDS = Path(__file__).parent / "feeds"
TODAY = date(2025, 7, 1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def feed(name: str, **kwargs):
    kwargs.setdefault("today", TODAY)
    return parse_feed((FEEDS / name).read_bytes(), **kwargs)


def by_uid(parsed) -> dict:
    return {event.uid: event for event in parsed.events}


def ics(*vevents: str, header: str = "") -> bytes:
    body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + header
    for vevent in vevents:
        body += "BEGIN:VEVENT\r\n" + vevent.strip().replace("\n", "\r\n") + "\r\nEND:VEVENT\r\n"
    return (body + "END:VCALENDAR\r\n").encode()


# Channels ---------------------------------------------------------------------------------
def test_airbnb_reservations_and_blocks_are_all_day_with_exclusive_checkout():
    parsed = feed("airbnb.ics")
    events = by_uid(parsed)
    assert len(events) == 4 and parsed.skipped == [] and not parsed.truncated
    stay = events["1418fb94e984-8f6b5d3c2a1e0f9b8c7d6e5f4a3b2c1d@airbnb.com"]
    assert (stay.start, stay.end, stay.all_day) == (date(2025, 7, 10), date(2025, 7, 15), True)
    assert stay.kind == "reservation" and stay.summary == "Reserved"
    assert "airbnb.com/hosting/reservations/details/HMQ4ZJ8X2T" in stay.description
    assert stay.dtstamp == utc(2025, 6, 20, 10, 15)
    block = events["7f662ec65913-0b5c1d4e7a9f2e6b3c8d0a1f5e4b7c2d@airbnb.com"]
    assert (block.start, block.end, block.kind) == (date(2025, 7, 20), date(2025, 7, 22), "block")
    assert all(e.status == "confirmed" and e.blocking for e in parsed.events)


def test_vrbo_with_bom_and_lf_line_endings():
    body = (FEEDS / "vrbo.ics").read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" not in body
    events = by_uid(parse_feed(body, today=TODAY))
    jane = events["81ea7d3f-4b2c-4e8a-9f1d-6c5b3a2e1d0f"]
    assert (jane.summary, jane.kind) == ("Reserved - Jane D", "reservation")
    assert (jane.start, jane.end) == (date(2025, 7, 12), date(2025, 7, 19))
    assert events["5d0c9b8a-7e6f-4a3b-8c2d-1e0f9a8b7c6d"].kind == "block"
    assert events["a4b3c2d1-e0f9-4876-b5a4-c3d2e1f0a9b8"].summary == "Reserved - Ólafur G"


def test_booking_closed_in_either_dash_is_a_block_and_all_day_defaults():
    events = by_uid(feed("booking.ics"))
    assert {e.kind for e in events.values()} == {"block"}
    en_dash = events["3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c@booking.com"]
    assert en_dash.summary == "CLOSED \u2013 Not available"
    no_dtend = events["c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1@booking.com"]
    assert (no_dtend.start, no_dtend.end) == (date(2025, 7, 24), date(2025, 7, 25))
    duration = events["0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d@booking.com"]
    assert (duration.start, duration.end) == (date(2025, 7, 28), date(2025, 7, 31))


@pytest.mark.parametrize(
    ("summary", "description", "kind"),
    [
        ("Reserved", "", "reservation"),
        ("Reserved - Jane D", "", "reservation"),
        ("Reserved \u2013 Jane D", "", "reservation"),
        ("Stay", "https://www.airbnb.com/hosting/reservations/details/HM1", "reservation"),
        (
            "Guest",
            "See https://admin.booking.com/hotel/hoteladmin/booking.html?res_id=1",
            "reservation",
        ),
        ("Airbnb (Not available)", "", "block"),
        ("Blocked", "", "block"),
        ("CLOSED - Not available", "", "block"),
        ("CLOSED \u2013 Not available", "", "block"),
        ("Cleaning", "", "maintenance"),  # issue 9 point 10: a kind of its own
    ],
)
def test_kind_classification(summary, description, kind):
    vevent = f"UID:k@x\nDTSTART;VALUE=DATE:20250710\nSUMMARY:{summary}\nDESCRIPTION:{description}"
    (event,) = parse_feed(ics(vevent), today=TODAY).events
    assert event.kind == kind


# Time zones -------------------------------------------------------------------------------
def test_google_recurrence_with_exdate_moved_occurrence_and_dst():
    parsed = feed("google_recurring.ics")
    events = by_uid(parsed)
    assert parsed.calendar_name == "Villa Montmartre - housekeeping"
    uid = "6kq3m1c9b8e7d6f5a4g3h2j1k0@google.com"
    first = events[f"{uid}#20250705T090000Z"]  # 11:00 Paris in summer
    assert (first.start, first.end, first.all_day) == (
        utc(2025, 7, 5, 9),
        utc(2025, 7, 5, 12),
        False,
    )
    assert f"{uid}#20250719T090000Z" not in events  # EXDATE
    moved = events[f"{uid}#20250726T090000Z"]  # identity = original start
    assert (moved.start, moved.end) == (utc(2025, 7, 27, 7), utc(2025, 7, 27, 10))
    assert moved.summary == "Cleaning (moved to Sunday)"
    assert not any(e.uid.endswith("#20250727T070000Z") for e in parsed.events)
    winter = events[f"{uid}#20251101T100000Z"]  # 11:00 Paris after the DST change
    assert winter.start == utc(2025, 11, 1, 10)
    assert uid not in events  # the series itself is not an event, only its occurrences
    assert events["0b1c2d3e4f5g6h7i8j9k@google.com"].start == utc(2025, 8, 1, 14)
    family = events["9z8y7x6w5v4u3t2s1r0q@google.com"]
    assert (family.start, family.end, family.all_day) == (
        date(2025, 8, 10),
        date(2025, 8, 12),
        True,
    )


def test_recurrence_window_is_today_minus_30_days_to_today_plus_2_years():
    parsed = parse_feed(
        ics("UID:w@x\nDTSTART;VALUE=DATE:20240106\nRRULE:FREQ=WEEKLY\nSUMMARY:Blocked"),
        today=TODAY,
    )
    starts = sorted(e.start for e in parsed.events)
    assert starts[0] == date(2025, 6, 7)  # first Saturday on/after 2025-06-01
    assert starts[-1] == date(2027, 6, 26)  # last Saturday before 2027-07-01
    assert all(e.uid == f"w@x#{e.start:%Y%m%d}" for e in parsed.events)
    assert len(starts) == 108


def test_all_day_recurrence_uid_and_override_keep_identity():
    body = ics(
        "UID:r@x\nDTSTART;VALUE=DATE:20250707\nRRULE:FREQ=DAILY;COUNT=3\nSUMMARY:Blocked",
        "UID:r@x\nRECURRENCE-ID;VALUE=DATE:20250708\nDTSTART;VALUE=DATE:20250720\n"
        "DTEND;VALUE=DATE:20250722\nSUMMARY:Blocked",
    )
    events = by_uid(parse_feed(body, today=TODAY))
    assert set(events) == {"r@x#20250707", "r@x#20250708", "r@x#20250709"}
    assert (events["r@x#20250708"].start, events["r@x#20250708"].end) == (
        date(2025, 7, 20),
        date(2025, 7, 22),
    )


def test_outlook_windows_zone_names():
    events = feed("outlook_windows_tz.ics").events
    assert [(e.start, e.end) for e in events] == [
        (utc(2025, 7, 15, 7), utc(2025, 7, 15, 10)),  # W. Europe, summer: +02:00
        (utc(2025, 12, 10, 8), utc(2025, 12, 10, 9, 30)),  # W. Europe, winter: +01:00
        (utc(2025, 12, 1, 17), utc(2025, 12, 1, 17, 30)),  # Pacific, no VTIMEZONE: -08:00
    ]


def test_floating_times_read_in_x_wr_timezone():
    events = by_uid(feed("floating_xwr.ics", default_tz="Europe/Paris"))
    summer = events["stay-20250715-8841@lodgify.example"]
    assert (summer.start, summer.end) == (utc(2025, 7, 15, 20), utc(2025, 7, 20, 15))
    winter = events["stay-20251220-9023@lodgify.example"]
    assert (winter.start, winter.end) == (utc(2025, 12, 20, 21), utc(2025, 12, 27, 16))
    call = events["checkin-call-20250801@lodgify.example"]  # DURATION
    assert (call.start, call.end) == (utc(2025, 8, 1, 13), utc(2025, 8, 1, 14, 30))
    keys = events["keys-20250802@lodgify.example"]  # no DTEND, no DURATION: zero length
    assert keys.start == keys.end == utc(2025, 8, 2, 14)


def test_floating_times_without_x_wr_timezone_use_the_listing_zone():
    body = ics("UID:f@x\nDTSTART:20250710T150000\nDTEND:20250710T170000")
    (event,) = parse_feed(body, default_tz="America/Los_Angeles", today=TODAY).events
    assert (event.start, event.end) == (utc(2025, 7, 10, 22), utc(2025, 7, 11, 0))
    (event,) = parse_feed(body, today=TODAY).events  # default_tz UTC
    assert event.start == utc(2025, 7, 10, 15)


# Status, duplicates, broken ---------------------------------------------------------------
def test_status_and_transparency():
    events = by_uid(feed("cancelled_transparent.ics"))
    assert (events["confirmed@google.com"].status, events["confirmed@google.com"].blocking) == (
        "confirmed",
        True,
    )
    assert (events["cancelled@google.com"].status, events["cancelled@google.com"].blocking) == (
        "cancelled",
        False,
    )
    assert (events["tentative@google.com"].status, events["tentative@google.com"].blocking) == (
        "pending",
        True,
    )
    transparent = events["transparent@google.com"]
    assert (transparent.status, transparent.blocking) == ("confirmed", False)


def test_duplicate_uids_sequence_then_dtstamp_and_tied_copies_with_other_dates_kept():
    # Issue 9 point 5 changed the last rule: copies tied on SEQUENCE and DTSTAMP with
    # different dates are both kept (issue 3 kept only the last in the file).
    events = by_uid(feed("duplicates_sequence.ics"))
    assert len(events) == 4
    assert events["dup-by-sequence@example.com"].summary == "Reserved - New dates"
    assert events["dup-by-sequence@example.com"].sequence == 2
    assert events["dup-by-dtstamp@example.com"].summary == "Blocked - later stamp"
    assert events["dup-by-order@example.com"].summary == "Blocked - first in file"
    (second,) = [e for e in events.values() if e.uid.startswith("dup-by-order@example.com#dup-")]
    assert second.summary == "Blocked - last in file"


def test_one_broken_vevent_is_skipped_with_its_reason():
    parsed = feed("broken_one_event.ics")
    assert sorted(e.uid for e in parsed.events) == ["good-1@airbnb.com", "good-2@airbnb.com"]
    assert parsed.skipped == [
        ("broken-dtstart@airbnb.com", "bad_dtstart"),
        ("missing-dtstart@airbnb.com", "missing_dtstart"),
        ("end-before-start@airbnb.com", "end_before_start"),
    ]


def test_timed_end_before_start_and_broken_rrule_are_skipped():
    body = ics(
        "UID:a@x\nDTSTART:20250710T100000Z\nDTEND:20250710T090000Z",
        "UID:b@x\nDTSTART:20250710T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=XX",
        "UID:c@x\nDTSTART:20250710T100000Z\nRRULE:FREQ=SECONDLY",
        "UID:ok@x\nDTSTART:20250710T100000Z",
    )
    parsed = parse_feed(body, today=TODAY)
    assert [e.uid for e in parsed.events] == ["ok@x"]
    assert dict(parsed.skipped) == {
        "a@x": "end_before_start",
        "b@x": "bad_recurrence",
        "c@x": "unsupported_rrule",
    }


def test_own_export_uids_are_ignored():
    parsed = feed("echo.ics", own_domain="syncbeat")
    assert [e.uid for e in parsed.events] == [
        "1418fb94e984-6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b@airbnb.com"
    ]
    assert {reason for _, reason in parsed.skipped} == {"own_export"}
    body = (FEEDS / "echo.ics").read_bytes()
    assert len(parse_feed(body, own_domain="other", today=TODAY).events) == 3


def test_empty_valid_calendar_has_no_events():
    parsed = feed("empty_calendar.ics")
    assert parsed.events == [] and parsed.skipped == [] and not parsed.truncated


def test_missing_uid_gets_a_stable_stand_in():
    body = ics("DTSTART;VALUE=DATE:20250710\nSUMMARY:Blocked")
    first = parse_feed(body, today=TODAY).events[0].uid
    assert first.startswith("nouid-") and parse_feed(body, today=TODAY).events[0].uid == first


# Invalid input and bounds -----------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \r\n",
        (FEEDS / "not_calendar.html").read_bytes(),
        b"\x00\xff\xfe garbage \x81",
        b'{"calendar": []}',
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n",
        (FEEDS / "airbnb.ics").read_bytes()[:700],  # cut mid-body: no END:VCALENDAR
    ],
    ids=["empty", "blank", "html", "binary", "json", "vcard", "truncated"],
)
def test_not_icalendar_raises_invalid_calendar(body):
    with pytest.raises(InvalidCalendar) as caught:
        parse_feed(body, today=TODAY)
    assert caught.value.reason == "invalid_ics"


def test_line_endings_folding_and_bom_do_not_matter():
    crlf = (FEEDS / "airbnb.ics").read_bytes()
    variants = [crlf, crlf.replace(b"\r\n", b"\n"), b"\xef\xbb\xbf" + crlf, b"\r\n\r\n" + crlf]
    results = [parse_feed(body, today=TODAY).events for body in variants]
    assert all(result == results[0] for result in results)
    assert "details/HMQ4ZJ8X2T\nPhone" in results[0][0].description  # unfolded, unescaped


def test_max_events_cap_sets_truncated():
    vevents = [f"UID:e{i}@x\nDTSTART;VALUE=DATE:20250710\nSUMMARY:Blocked" for i in range(5010)]
    parsed = parse_feed(ics(*vevents), today=TODAY)
    assert len(parsed.events) == 5000 and parsed.truncated and parsed.left_out == 10
    assert parsed.events[-1].uid == "e4999@x"  # ties: the first in the file are kept
    assert parsed.covered_until == utc(2025, 7, 10)


def test_cap_keeps_the_earliest_and_never_decodes_blocks_surely_past_it():
    # 210 one-night blocks, one a day from today, in reverse file order; the cap is 100.
    vevents = [
        f"UID:e{i}@x\nDTSTART;VALUE=DATE:{TODAY + timedelta(days=i):%Y%m%d}\nSUMMARY:Blocked"
        for i in reversed(range(210))
    ]
    parsed = parse_feed(ics(*vevents), today=TODAY, max_events=100)
    assert sorted(e.uid for e in parsed.events) == sorted(f"e{i}@x" for i in range(100))
    assert parsed.covered_until == utc(2025, 7, 1) + timedelta(days=100)
    assert parsed.left_out == 110 and parsed.truncated
    assert parsed.decoded <= 106  # blocks scanned to start days after the cut: not decoded


def test_a_copy_past_the_cap_still_competes_on_sequence():
    vevents = [f"UID:e{i}@x\nDTSTART;VALUE=DATE:20250710\nSUMMARY:Blocked" for i in range(4)]
    vevents.append("UID:e1@x\nSEQUENCE:2\nDTSTART;VALUE=DATE:20250801\nSUMMARY:Blocked")
    vevents.append("UID:late@x\nDTSTART;VALUE=DATE:20250901\nSUMMARY:Blocked")
    parsed = parse_feed(ics(*vevents), today=TODAY, max_events=4)
    by_uid = {event.uid: event for event in parsed.events}
    assert set(by_uid) == {"e0@x", "e1@x", "e2@x", "e3@x"} and parsed.truncated
    assert str(by_uid["e1@x"].start) == "2025-08-01"


def test_max_events_cap_counts_occurrences():
    body = ics(
        "UID:one@x\nDTSTART;VALUE=DATE:20250710",
        "UID:daily@x\nDTSTART;VALUE=DATE:20250701\nRRULE:FREQ=DAILY",
    )
    parsed = parse_feed(body, today=TODAY, max_events=50)
    assert len(parsed.events) == 50 and parsed.truncated
    assert len(parse_feed(body, today=TODAY, max_events=1000).events) == 731
