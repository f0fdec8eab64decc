"""The feed farm: realistic styles that parse into the right kinds, and its HTTP server."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from datetime import date, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from calendars.feedfarm import STYLES, FeedFarm, generate_feed, make_server, serving
from calendars.feedfarm.echo import parse_export
from calendars.feedfarm.generate import EchoBlock, checkout_days, published_stays
from calendars.ics import InvalidCalendar, parse_feed
from tests.support.http import Reply, local_server

TODAY = date(2025, 7, 1)
WINDOW_START = TODAY - timedelta(days=30)  # the import window's first day


def get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize(
    ("style", "prodid", "kinds"),
    [
        ("airbnb", b"-//Airbnb Inc//Hosting Calendar 0.8.8//EN", {"reservation", "block"}),
        ("vrbo", b"PRODID:-//HomeAway.com, Inc.//EN", {"reservation", "block"}),
        ("booking", b"PRODID:-//admin.booking.com//", {"block"}),
        ("google", b"X-WR-TIMEZONE:Europe/Paris", {"block", "owner_stay", "maintenance"}),
    ],
)
def test_each_style_parses_into_the_right_kinds(style, prodid, kinds):
    body = generate_feed(3, style=style, events=40, today=TODAY)
    assert prodid in body
    parsed = parse_feed(body, today=TODAY)
    assert parsed.skipped == [] and not parsed.truncated
    assert {e.kind for e in parsed.events} == kinds
    if style == "google":
        assert b"BEGIN:VTIMEZONE" in body and b"RRULE:FREQ=WEEKLY" in body
        assert sum("#" in e.uid for e in parsed.events) > 100  # the weekly gardener
        assert all(not e.all_day for e in parsed.events)
        cleanings = [e for e in parsed.events if e.summary == "Cleaning"]
        paris = ZoneInfo("Europe/Paris")
        assert {e.start.astimezone(paris).hour for e in cleanings} == {11}
        assert {e.end.astimezone(paris).hour for e in cleanings} == {14}
        checkouts = {e.end.astimezone(paris).date() for e in parsed.events if "stay" in e.summary}
        assert checkouts <= {e.start.astimezone(paris).date() for e in cleanings}
    else:
        assert len(parsed.events) == 40 and all(e.all_day for e in parsed.events)
    if style == "airbnb":
        reserved = [e for e in parsed.events if e.kind == "reservation"]
        assert all("airbnb.com/hosting/reservations/details/" in e.description for e in reserved)
    if style == "booking":
        assert "CLOSED \u2013 Not available".encode() in body


def test_generation_is_deterministic_and_versions_change_a_subset():
    v0 = generate_feed(11, style="vrbo", events=50, today=TODAY)
    assert v0 == generate_feed(11, style="vrbo", events=50, today=TODAY)
    v1 = generate_feed(11, style="vrbo", events=50, version=1, today=TODAY)
    v2 = generate_feed(11, style="vrbo", events=50, version=2, today=TODAY)
    assert len({v0, v1, v2}) == 3
    e0 = {e.uid: e for e in parse_feed(v0, today=TODAY).events}
    e1 = {e.uid: e for e in parse_feed(v1, today=TODAY).events}
    assert set(e0) == set(e1)
    changed = [uid for uid in e0 if e0[uid] != e1[uid]]
    assert len(changed) == 5  # one in ten


def test_change_fraction_changes_exactly_that_share_of_feeds_per_round():
    farm = FeedFarm(200, change_fraction=0.1, today=TODAY)
    for round_no in (1, 2, 3):
        changing = [f for f in range(1, 201) if farm.changes_in(f, round_no)]
        assert len(changing) == 20
    before = {f: farm.version_of(f) for f in range(1, 201)}
    assert set(before.values()) == {0}
    farm.advance()
    after = {f: farm.version_of(f) for f in range(1, 201)}
    assert sum(before[f] != after[f] for f in before) == 20


def test_server_refuses_other_hosts():
    with pytest.raises(ValueError, match="127.0.0.1"):
        make_server(0, 10, host="0.0.0.0")


def test_server_etag_304_styles_rounds_and_faults():
    with serving(feeds=20, events=30, change_fraction=0.5, today=TODAY) as server:
        url = f"{server.base_url}/feeds/5.ics"
        status, headers, body = get(url)
        assert status == 200 and headers["Content-Type"].startswith("text/calendar")
        assert headers["ETag"] and headers["Last-Modified"]
        assert body == generate_feed(5, events=30, today=TODAY)  # style airbnb... by id % 4
        in_window = [s for s in published_stays(5, events=30, today=TODAY) if s[1] > WINDOW_START]
        assert len(parse_feed(body, today=TODAY).events) == len(in_window) > 20

        status, _, body304 = get(url, {"If-None-Match": headers["ETag"]})
        assert (status, body304) == (304, b"")
        status, _, _ = get(url, {"If-Modified-Since": headers["Last-Modified"]})
        assert status == 304

        _, _, vrbo = get(url + "?style=vrbo")
        assert b"HomeAway" in vrbo

        # Next round: half the feeds change; their ETag changes, the others' does not.
        etags = {f: get(f"{server.base_url}/feeds/{f}.ics")[1]["ETag"] for f in range(1, 21)}
        advance = urllib.request.Request(f"{server.base_url}/control/advance", method="POST")
        with urllib.request.urlopen(advance, timeout=10) as response:
            assert json.loads(response.read())["round"] == 1
        moved = [
            f
            for f in range(1, 21)
            if get(f"{server.base_url}/feeds/{f}.ics")[1]["ETag"] != etags[f]
        ]
        assert len(moved) == 10

        assert get(url + "?fault=500")[0] == 500
        status, headers, _ = get(url + "?fault=429")
        assert status == 429 and headers["Retry-After"] == "30"
        status, headers, html = get(f"{server.base_url}/fault/html/feeds/5.ics")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        status, _, cut = get(url + "?fault=truncated")
        assert status == 200 and 0 < len(cut) < len(body)
        status, _, empty = get(url + "?fault=empty")
        assert (status, empty) == (200, b"")
        for bad in (html, cut, empty):
            with pytest.raises(InvalidCalendar):
                parse_feed(bad, today=TODAY)
        assert get(url + "?fault=slow&seconds=0.05")[0] == 200
        assert get(f"{server.base_url}/feeds/21.ics")[0] == 404

        # reset: the full length is promised, half is sent, the connection closes.
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        connection.request("GET", "/feeds/5.ics?fault=reset")
        with pytest.raises(http.client.IncompleteRead):
            connection.getresponse().read()
        connection.close()


def test_styles_cover_all_four():
    assert STYLES == ("airbnb", "vrbo", "booking", "google")


# --- issue 9 point 17: cleanings, echoes, deliberate double bookings ----------------------


def test_google_cleans_on_every_checkout_day_in_its_zone():
    turnovers = checkout_days(8, events=20, today=TODAY)
    body = generate_feed(
        9, style="google", events=10, today=TODAY, tz="America/Denver", turnovers=turnovers
    )
    assert b"X-WR-TIMEZONE:America/Denver" in body and b"TZID:America/Denver" in body
    parsed = parse_feed(body, today=TODAY, default_tz="America/Denver")
    assert parsed.skipped == [] and parsed.unknown_tzids == []
    denver = ZoneInfo("America/Denver")
    cleanings = {
        e.start.astimezone(denver).date(): e for e in parsed.events if e.summary == "Cleaning"
    }
    own = {end for _start, end, _kind in published_stays(9, style="google", events=10, today=TODAY)}
    assert set(cleanings) == {d for d in own | set(turnovers) if d >= WINDOW_START}
    for day, event in cleanings.items():
        assert event.kind == "maintenance"
        local = (event.start.astimezone(denver), event.end.astimezone(denver))
        assert [(t.date(), t.hour) for t in local] == [(day, 11), (day, 14)]
    assert len({e.uid for e in cleanings.values()}) == len(cleanings)


@pytest.mark.parametrize(
    ("style", "summary"),
    [
        ("booking", "CLOSED - Not available"),
        ("vrbo", "Blocked"),
        ("airbnb", "Airbnb (Not available)"),
    ],
)
def test_channels_republish_echoes_under_their_own_uids(style, summary):
    echoes = [
        EchoBlock("aaa@syncbeat.app", date(2025, 7, 20), date(2025, 7, 23)),
        EchoBlock("bbb@syncbeat.app", date(2025, 8, 2), date(2025, 8, 3)),
    ]
    plain = parse_feed(generate_feed(4, style=style, events=10, today=TODAY), today=TODAY)
    body = generate_feed(4, style=style, events=10, today=TODAY, echoes=echoes)
    parsed = parse_feed(body, today=TODAY, own_domain="syncbeat.app")
    copies = [e for e in parsed.events if e.uid not in {p.uid for p in plain.events}]
    assert sorted((e.start, e.end) for e in copies) == [(b.start, b.end) for b in echoes]
    assert all(e.summary == summary and e.kind == "block" for e in copies)
    assert not any("syncbeat" in e.uid for e in copies)  # the channel's own UIDs
    again = parse_feed(
        generate_feed(4, style=style, events=10, today=TODAY, echoes=echoes), today=TODAY
    )
    assert {e.uid for e in again.events} == {e.uid for e in parsed.events}  # stable UIDs


def test_doubles_book_future_reservations_onto_the_next_feeds_stays():
    plain = published_stays(12, style="airbnb", events=30, today=TODAY)
    doubled = published_stays(12, style="airbnb", events=30, today=TODAY, doubles=2)
    moved = [(a, b) for a, b in zip(plain, doubled, strict=True) if a != b]
    assert len(moved) == 2
    neighbour = published_stays(13, style="vrbo", events=30, today=TODAY)
    for before, after in moved:
        assert before[0] > TODAY and after[2] == "reservation"
        assert after[1] - after[0] == before[1] - before[0]  # same length of stay
        assert any(start == after[0] for start, _end, _kind in neighbour)
    # Later versions shorten stays or flip kinds, never move a start: still double.
    v3 = published_stays(12, style="airbnb", events=30, today=TODAY, doubles=2, version=3)
    assert {after[0] for _b, after in moved} <= {start for start, _e, _k in v3}


def test_a_channel_copies_our_export_as_days():
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        b"BEGIN:VEVENT\r\nUID:a@syncbeat.app\r\nDTSTART;VALUE=DATE:20250710\r\n"
        b"DTEND;VALUE=DATE:20250713\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:b@syncbeat.app\r\nDTSTART:20250715T140000Z\r\n"
        b"DTEND:20250719T090000Z\r\nSUMMARY:Not available\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:c@syncbeat.app\r\nDTSTART:20250721T180000Z\r\n"
        b"DTEND:20250721T210000Z\r\nSUMMARY:Not available\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert parse_export(body) == (
        EchoBlock("a@syncbeat.app", date(2025, 7, 10), date(2025, 7, 13)),
        EchoBlock("b@syncbeat.app", date(2025, 7, 15), date(2025, 7, 19)),  # check-out day
        EchoBlock("c@syncbeat.app", date(2025, 7, 21), date(2025, 7, 22)),  # its night
    )
    with pytest.raises(ValueError):
        parse_export(b"<html>login</html>")


def test_server_echoes_a_local_export_with_conditional_requests():
    export = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        b"BEGIN:VEVENT\r\nUID:a@syncbeat.app\r\nDTSTART;VALUE=DATE:20250710\r\n"
        b"DTEND;VALUE=DATE:20250713\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    state = {"body": export, "status": 200}

    def route(seen):
        if state["status"] != 200:
            return Reply(state["status"], b"gone")
        if seen.headers.get("if-none-match") == '"e1"':
            return Reply(304, b"", {"ETag": '"e1"'})
        return Reply(200, state["body"], {"ETag": '"e1"', "Content-Type": "text/calendar"})

    with local_server({"/export.ics": route}) as exporter, serving(feeds=10, today=TODAY) as farm:
        echo = quote(f"{exporter.url}/export.ics?for=booking", safe="")
        url = f"{farm.base_url}/feeds/2.ics?style=booking&events=5&echo={echo}"
        # Each read is one poll of the export; the feed shows what the previous poll got.
        status, _, first = get(url)
        assert status == 200 and b"20250710" not in first  # not imported yet
        assert exporter.requests[-1].path == "/export.ics?for=booking"
        status, _, body = get(url)
        assert status == 200 and b"DTSTART;VALUE=DATE:20250710" in body
        assert exporter.requests[-1].headers["if-none-match"] == '"e1"'  # a 304
        assert get(url)[2] == body
        state["status"] = 404  # an expired link: the channel keeps what it imported
        assert get(url)[2] == body
        assert len(exporter.requests) == 4
        outside = quote("http://example.com/export.ics", safe="")
        assert get(f"{farm.base_url}/feeds/2.ics?echo={outside}")[0] == 400
        assert get(f"{farm.base_url}/feeds/2.ics?tz=Mars/Olympus")[0] == 400
        assert get(f"{farm.base_url}/feeds/2.ics?cleaning_for=99")[0] == 400
