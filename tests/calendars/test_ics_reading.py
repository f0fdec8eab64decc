"""Reading feeds right (issue 9, points 4 to 8 and 11, the parser's side).

Folding as bytes, nominal DURATION days, Outlook zone names, the import window and the
earliest-first cap, tied duplicate UIDs, long UIDs, echo scoping; the points that are about
import also go through the engine with feeds served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar.parser.content_line import UFOLD

from calendars.ics import InvalidCalendar, parse_feed
from calendars.ics.blocks import unfold
from calendars.models import Event, EventStatus
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    make_feed,
    make_listing,
    run_sync,
)
from tests.support.http import local_server

TODAY = date(2025, 7, 1)
REALWORLD = Path(__file__).resolve().parents[3] / "shared" / "realworld-ics"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ics(*vevents: str, header: str = "") -> bytes:
    body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + header
    for vevent in vevents:
        body += "BEGIN:VEVENT\r\n" + vevent.strip().replace("\n", "\r\n") + "\r\nEND:VEVENT\r\n"
    return (body + "END:VCALENDAR\r\n").encode()


def by_uid(parsed) -> dict:
    return {event.uid: event for event in parsed.events}


# Point 6: unfold as bytes, then decode -----------------------------------------------------
SUMMARY = "Réservé – Ólafur 😀 Ñandú"


def folded_at(at: int, day: date = date(2025, 7, 10)) -> bytes:
    """A feed whose SUMMARY line is folded after byte ``at`` of the line (maybe mid-char),
    with a second, plain event."""
    line = f"SUMMARY:{SUMMARY}".encode()
    body = ics(
        f"UID:fold@x\nDTSTART;VALUE=DATE:{day:%Y%m%d}\nSUMMARY:@@",
        f"UID:plain@x\nDTSTART;VALUE=DATE:{day:%Y%m%d}\nSUMMARY:Blocked",
    )
    return body.replace(b"SUMMARY:@@", line[:at] + b"\r\n " + line[at:])


def test_a_fold_inside_a_multibyte_character_gives_the_right_text():
    line = f"SUMMARY:{SUMMARY}".encode()
    for at in range(len("SUMMARY:"), len(line)):  # every byte, inside characters included
        events = by_uid(parse_feed(folded_at(at), today=TODAY))
        assert events["fold@x"].summary == SUMMARY, at


@pytest.mark.django_db
def test_a_fold_inside_a_character_imports_right_and_stays_unchanged(alice, allow_private_urls):
    at = len("SUMMARY:Réserv".encode()) + 1  # between the two bytes of "é"
    body = folded_at(at, date.today() + timedelta(days=5))
    route = Body(body)
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        first = run_sync(feed)
        assert first.outcome == "ok", first.message
        assert Event.objects.get(feed=feed, uid="fold@x").summary == SUMMARY
        route.body, route.etag = body + b"\r\n", '"v2"'  # new bytes, same blocks
        again = run_sync(feed)
    assert again.counts["decoded"] == 0 and again.counts["not_decoded"] == 2
    assert Event.objects.get(feed=feed, uid="fold@x").summary == SUMMARY


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40).map(lambda data: bytes(b"\r\n \tab"[x % 6] for x in data)))
def test_unfolding_bytes_joins_lines_as_icalendar_does(text):
    assert unfold(text) == UFOLD.sub("", text.decode())


# Point 7: DURATION ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        ("20251025T100000", "P1D", utc(2025, 10, 26, 9)),  # autumn: one calendar day = 25 h
        ("20251025T100000", "PT24H", utc(2025, 10, 26, 8)),  # exact hours
        ("20251025T100000", "P1DT1H", utc(2025, 10, 26, 10)),
        ("20251025T100000", "PT25H", utc(2025, 10, 26, 9)),
        ("20260328T100000", "P1D", utc(2026, 3, 29, 8)),  # spring: 23 h
        ("20260321T100000", "P1W", utc(2026, 3, 28, 9)),  # a week is 7 calendar days
        ("20260329T013000", "PT2H", utc(2026, 3, 29, 2, 30)),  # 01:30 CET + 2 h = 04:30 CEST
    ],
)
def test_duration_days_are_nominal_and_hours_exact(start, duration, end):
    for dtstart in (f"DTSTART;TZID=Europe/Paris:{start}", f"DTSTART:{start}"):
        body = ics(f"UID:d@x\n{dtstart}\nDURATION:{duration}")
        (event,) = parse_feed(body, default_tz="Europe/Paris", today=TODAY).events
        assert event.end == end, dtstart  # floating times: the listing's zone


def test_recurring_occurrences_use_nominal_days_too():
    body = ics(
        "UID:r@x\nDTSTART;TZID=Europe/Paris:20251024T100000\nRRULE:FREQ=DAILY;COUNT=3\n"
        "DURATION:PT25H",
        "UID:s@x\nDTSTART;TZID=Europe/Paris:20251024T100000\nRRULE:FREQ=DAILY;COUNT=3\n"
        "DURATION:P1DT1H",
    )
    events = by_uid(parse_feed(body, today=TODAY))
    assert events["r@x#20251025T080000Z"].end == utc(2025, 10, 26, 9)  # 25 h exactly
    assert events["s@x#20251025T080000Z"].end == utc(2025, 10, 26, 10)  # 1 day + 1 h
    assert events["s@x#20251026T090000Z"].end == utc(2025, 10, 27, 10)


def test_a_dtend_wins_over_a_duration_and_a_bad_duration_is_skipped():
    body = ics(
        "UID:both@x\nDTSTART:20251025T100000Z\nDTEND:20251025T120000Z\nDURATION:PT5H",
        "UID:bad@x\nDTSTART:20251025T100000Z\nDURATION:P",
    )
    parsed = parse_feed(body, today=TODAY)
    assert by_uid(parsed)["both@x"].end == utc(2025, 10, 25, 12)
    assert dict(parsed.skipped) == {"bad@x": "bad_duration"}


# Point 8: Outlook and Windows zone names -------------------------------------------------
OUTLOOK_NY = '"(UTC-05:00) Eastern Time (US & Canada)"'


def test_outlook_display_names_and_windows_ids_map_to_iana_zones():
    body = ics(
        f"UID:a@x\nDTSTART;TZID={OUTLOOK_NY}:20250710T100000\n"
        f"DTEND;TZID={OUTLOOK_NY}:20250710T110000",
        f"UID:b@x\nDTSTART;TZID={OUTLOOK_NY}:20251210T100000",
        "UID:c@x\nDTSTART;TZID=Romance Standard Time:20251210T100000",
        "UID:d@x\nDTSTART;TZID=Europe/lisbon:20251210T100000",
        "UID:e@x\nDTSTART;TZID=/freeassociation.sourceforge.net/Europe/Berlin:20250710T100000",
    )
    parsed = parse_feed(body, default_tz="Asia/Tokyo", today=TODAY)
    events = by_uid(parsed)
    assert (events["a@x"].start, events["a@x"].end) == (utc(2025, 7, 10, 14), utc(2025, 7, 10, 15))
    assert events["b@x"].start == utc(2025, 12, 10, 15)  # EST in winter
    assert events["c@x"].start == utc(2025, 12, 10, 9)  # Paris
    assert events["d@x"].start == utc(2025, 12, 10, 10)
    assert events["e@x"].start == utc(2025, 7, 10, 8)
    assert parsed.unknown_tzids == []


def test_an_unknown_tzid_is_reported_and_read_in_the_listing_zone():
    body = ics(
        "UID:u@x\nDTSTART;TZID=Mars/Olympus_Mons:20250710T100000\n"
        "DTEND;TZID=Mars/Olympus_Mons:20250710T120000",
        "UID:k@x\nDTSTART;TZID=Europe/Paris:20250710T100000",
    )
    parsed = parse_feed(body, default_tz="America/Los_Angeles", today=TODAY)
    assert parsed.unknown_tzids == ["Mars/Olympus_Mons"]
    assert by_uid(parsed)["u@x"].start == utc(2025, 7, 10, 17)  # 10:00 in Los Angeles


def custom_zone_feed(offset: str) -> bytes:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\n"
        f"DTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    return ics('UID:z@x\nDTSTART;TZID="Customized Time Zone":20250710T100000', header=zone)


def test_a_zone_defined_by_the_feed_is_known_and_read_with_that_feed_only():
    # icalendar caches VTIMEZONEs by TZID for the whole process: two feeds that define
    # "Customized Time Zone" differently must each be read with their own.
    plus_two = parse_feed(custom_zone_feed("+0200"), today=TODAY)
    minus_five = parse_feed(custom_zone_feed("-0500"), today=TODAY)
    assert plus_two.unknown_tzids == minus_five.unknown_tzids == []
    assert plus_two.events[0].start == utc(2025, 7, 10, 8)
    assert minus_five.events[0].start == utc(2025, 7, 10, 15)


@pytest.mark.django_db
def test_an_outlook_feed_imports_at_the_right_hour(alice, allow_private_urls):
    body = ics(f"UID:o@x\nDTSTART;TZID={OUTLOOK_NY}:{date.today():%Y%m%d}T100000\nDURATION:PT1H")
    with local_server({"/o.ics": Body(body)}) as server:
        feed = make_feed(make_listing(alice, tz="Europe/Paris"), f"{server.url}/o.ics")
        assert run_sync(feed).outcome == "ok"
    event = Event.objects.get(feed=feed, uid="o@x")
    assert event.start.astimezone(UTC).hour in (14, 15)  # 10:00 New York, EDT or EST
    assert event.end - event.start == timedelta(hours=1)


# Point 4: the window and the cap ---------------------------------------------------------
def day_event(uid: str, day: date) -> str:
    return f"UID:{uid}\nDTSTART;VALUE=DATE:{day:%Y%m%d}\nSUMMARY:Blocked"


def test_events_outside_the_window_are_not_returned_nor_decoded():
    past = [day_event(f"p{i}@x", TODAY - timedelta(days=400 + i)) for i in range(300)]
    future = [day_event(f"f{i}@x", TODAY + timedelta(days=800 + i)) for i in range(50)]
    inside = [day_event(f"i{i}@x", TODAY + timedelta(days=i)) for i in range(20)]
    parsed = parse_feed(ics(*past, *inside, *future), today=TODAY, max_events=25)
    assert sorted(e.uid for e in parsed.events) == sorted(f"i{i}@x" for i in range(20))
    assert not parsed.truncated and parsed.left_out == 0 and parsed.covered_until is None
    assert parsed.decoded == 20  # the other 350 blocks cost a string scan
    assert parsed.window == (utc(2025, 6, 1), utc(2027, 7, 1))  # listing zone UTC here


def test_series_wholly_outside_the_window_are_not_decoded():
    body = ics(
        "UID:old@x\nDTSTART:20200106T100000Z\nRRULE:FREQ=WEEKLY;UNTIL=20210101T000000Z",
        "UID:future@x\nDTSTART:20300106T100000Z\nRRULE:FREQ=WEEKLY",
        "UID:live@x\nDTSTART:20250601T100000Z\nRRULE:FREQ=WEEKLY;UNTIL=20250715T000000Z",
        "UID:moved@x\nDTSTART:20200106T100000Z\nRRULE:FREQ=WEEKLY;UNTIL=20210101T000000Z",
        "UID:moved@x\nRECURRENCE-ID:20200113T100000Z\nDTSTART:20250710T100000Z",
    )
    parsed = parse_feed(body, today=TODAY)
    assert parsed.decoded == 3  # live, and both blocks of moved (one of them is inside)
    uids = {e.uid for e in parsed.events}
    assert len(uids) == 8 and "moved@x#20200113T100000Z" in uids
    assert not any(uid.startswith(("old@", "future@")) for uid in uids)


def test_the_window_is_midnight_in_the_listing_zone():
    parsed = parse_feed(ics(day_event("a@x", TODAY)), default_tz="Europe/Paris", today=TODAY)
    assert parsed.window == (utc(2025, 5, 31, 22), utc(2027, 6, 30, 22))


def test_the_cap_counts_occurrences_and_keeps_the_earliest():
    body = ics(
        day_event("late@x", TODAY + timedelta(days=40)),
        "UID:daily@x\nDTSTART;VALUE=DATE:20250701\nRRULE:FREQ=DAILY",
        day_event("early@x", TODAY + timedelta(days=3)),
    )
    parsed = parse_feed(body, today=TODAY, max_events=30)
    uids = {e.uid for e in parsed.events}
    assert len(uids) == 30 and "early@x" in uids and "late@x" not in uids
    assert parsed.covered_until == utc(2025, 7, 30)  # 29 days of the series + early@x fit
    assert parsed.left_out == 730 + 2 - 30 and parsed.truncated


def test_a_google_calendar_with_years_of_history_imports_all_of_its_window():
    # The 6,383-block calendar in small: most blocks are history; the cap counts
    # only the events in the window, so nothing of it is left out.
    history = [day_event(f"h{i}@x", TODAY - timedelta(days=40 + i)) for i in range(900)]
    window = [day_event(f"w{i}@x", TODAY + timedelta(days=i % 700)) for i in range(400)]
    parsed = parse_feed(ics(*history, *window), today=TODAY, max_events=500)
    assert len(parsed.events) == 400 and not parsed.truncated and parsed.decoded == 400


def test_a_10000_event_feed_stays_within_bounded_memory():
    vevents = [day_event(f"e{i}@x", TODAY + timedelta(days=i % 700)) for i in range(10_000)]
    body = ics(*vevents)
    tracemalloc.start()
    try:
        parsed = parse_feed(body, today=TODAY, max_events=5000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(parsed.events) == 5000 and parsed.left_out == 5000
    assert parsed.decoded < 5400  # blocks surely past the cut are never decoded
    assert peak < 33 * len(body), peak  # ~25x the body here; decoding all 10,000 is ~42x


def test_hostile_numbers_of_series_are_bounded_and_claim_no_coverage():
    series = [f"UID:s{i}@x\nDTSTART;VALUE=DATE:20250701\nRRULE:FREQ=DAILY" for i in range(30)]
    parsed = parse_feed(ics(*series), today=TODAY, max_events=5)  # bounds: 20 blocks, 40 occ.
    assert len(parsed.events) == 5 and parsed.decoded == 20  # 10 blocks never decoded
    assert parsed.left_out == 10 + 19 + (730 - 5)  # blocks, series, occurrences dropped
    assert parsed.covered_until == parsed.window[0]  # nothing can be judged gone


@pytest.mark.django_db
def test_past_and_far_future_events_are_not_imported(alice, allow_private_urls):
    body = airbnb_feed(
        airbnb_event("old", -400, -395), airbnb_event("now", 3, 6), airbnb_event("far", 800, 805)
    )
    with local_server({"/a.ics": Body(body)}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        assert run_sync(feed).outcome == "ok"
    assert list(Event.objects.filter(feed=feed).values_list("uid", flat=True)) == ["now@airbnb.com"]


# Point 5: duplicate UIDs and long UIDs ----------------------------------------------------
def copy(uid: str, start: str, end: str, seq: int = 0, stamp: str = "20250601T000000Z") -> str:
    return (
        f"UID:{uid}\nSEQUENCE:{seq}\nDTSTAMP:{stamp}\nDTSTART;VALUE=DATE:{start}\n"
        f"DTEND;VALUE=DATE:{end}\nSUMMARY:Reserved"
    )


def test_tied_copies_with_other_dates_are_both_kept_under_stable_uids():
    body = ics(
        copy("r@airbnb.com", "20250710", "20250712"), copy("r@airbnb.com", "20250720", "20250725")
    )
    first = parse_feed(body, today=TODAY)
    uids = sorted(e.uid for e in first.events)
    assert len(uids) == 2 and uids[0] == "r@airbnb.com" and uids[1].startswith("r@airbnb.com#dup-")
    other = ics(day_event("x@x", TODAY), copy("r@airbnb.com", "20250710", "20250712"),
                copy("r@airbnb.com", "20250720", "20250725"))  # fmt: skip
    assert uids[1] in {e.uid for e in parse_feed(other, today=TODAY).events}


def test_a_higher_sequence_or_dtstamp_still_replaces():
    body = ics(
        copy("s@x", "20250710", "20250712", seq=1),
        copy("s@x", "20250720", "20250725", seq=2),
        copy("t@x", "20250710", "20250712", stamp="20250602T000000Z"),
        copy("t@x", "20250720", "20250725"),
        copy("u@x", "20250710", "20250712"),
        copy("u@x", "20250710", "20250712"),
    )
    events = by_uid(parse_feed(body, today=TODAY))
    assert set(events) == {"s@x", "t@x", "u@x"}
    assert events["s@x"].start == date(2025, 7, 20) and events["t@x"].start == date(2025, 7, 10)


@pytest.mark.django_db
def test_long_uids_never_merge_and_keep_their_form(alice, allow_private_urls):
    prefix, today = "x" * 520, date.today()
    body = ics(
        day_event(prefix + "-first", today + timedelta(days=3)),
        day_event(prefix + "-second", today + timedelta(days=9)),
        f"UID:{prefix}-series\nDTSTART;VALUE=DATE:{today:%Y%m%d}\nRRULE:FREQ=WEEKLY;COUNT=2",
    )
    uids = [e.uid for e in parse_feed(body).events]
    assert len(set(uids)) == 4 and all(len(uid) <= 512 for uid in uids)
    assert uids == [e.uid for e in parse_feed(body).events]  # the same form every time
    route = Body(body)
    with local_server({"/l.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/l.ics")
        assert run_sync(feed).counts["created"] == 4
        route.body, route.etag = body + b"\r\n", '"v2"'
        again = run_sync(feed)
    assert again.items_changed == 0
    assert Event.objects.filter(feed=feed).exclude(status=EventStatus.CANCELLED).count() == 4


# Point 11, the parser's side: echoes scoped to this listing's own export UIDs ------------
def test_only_this_listings_own_export_uids_are_echoes():
    body = ics(
        day_event("mine-1@syncbeat.app", TODAY + timedelta(days=2)),
        day_event("sibling-7@syncbeat.app", TODAY + timedelta(days=4)),
        day_event("guest@airbnb.com", TODAY + timedelta(days=6)),
    )
    scoped = parse_feed(body, today=TODAY, own_uids={"MINE-1@syncbeat.app"})  # any case
    assert {e.uid for e in scoped.events} == {"sibling-7@syncbeat.app", "guest@airbnb.com"}
    assert scoped.skipped == [("mine-1@syncbeat.app", "own_export")]
    legacy = parse_feed(body, today=TODAY, own_domain="syncbeat.app")  # before own_uids
    assert {e.uid for e in legacy.events} == {"guest@airbnb.com"}
    nothing_own = parse_feed(body, today=TODAY, own_uids=())
    assert len(nothing_own.events) == 3
    assert len({scoped.context_hash, legacy.context_hash, nothing_own.context_hash}) == 3


# Point 8 of the brief: nothing but a ParsedFeed or InvalidCalendar, whatever the bytes ---
def _parse_or_invalid(body: bytes) -> None:
    try:
        parsed = parse_feed(body, today=TODAY, max_events=50)
    except InvalidCalendar:
        return
    assert len(parsed.events) <= 50
    assert all(len(event.uid) <= 512 for event in parsed.events)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_feed_or_invalid_calendar(body):
    _parse_or_invalid(body)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list('BEGIN:VEVT\r\n ;=UIDSARX0123456789Z"é😀-')), max_size=400
    )
)
def test_icalendar_shaped_text_gives_a_feed_or_invalid_calendar(middle):
    body = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + middle + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    _parse_or_invalid(body.encode())


_SEEDS = sorted(REALWORLD.glob("*.ics"))[:40] if REALWORLD.is_dir() else []


@pytest.mark.skipif(not _SEEDS, reason="no real-world calendars at ../shared/realworld-ics")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SEEDS or [Path("x")]),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=8)), max_size=6),
)
def test_mutated_real_world_calendars_give_a_feed_or_invalid_calendar(path, edits):
    body = bytearray(path.read_bytes()[:20_000])
    for position, data in edits:
        at = position % (len(body) + 1)
        body[at : at + len(data)] = data
    _parse_or_invalid(bytes(body))
