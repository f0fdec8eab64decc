"""The feed farm: realistic styles that parse into the right kinds, and its HTTP server."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from datetime import date

import pytest

from calendars.feedfarm import STYLES, FeedFarm, generate_feed, make_server, serving
from calendars.ics import InvalidCalendar, parse_feed

TODAY = date(2025, 7, 1)


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
        ("google", b"X-WR-TIMEZONE:Europe/Paris", {"block"}),
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
        assert sum("#" in e.uid for e in parsed.events) > 100  # the weekly cleaning
        assert all(not e.all_day for e in parsed.events)
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
        assert len(parse_feed(body, today=TODAY).events) == 30

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
