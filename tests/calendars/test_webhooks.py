"""Integrator webhooks from the calendars import: bookings added, changed, cancelled, and
double bookings opened and resolved, queued as WebhookDelivery rows for the owner only."""

from __future__ import annotations

import pytest

from calendars.formatting import format_instant
from calendars.models import Conflict, Event, Source
from calendars.services.nights import StayWindow
from syncing.models import WebhookDelivery
from syncing.webhooks.services import endpoint_create
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    day,
    make_feed,
    make_listing,
    run_sync,
    vrbo_feed,
)
from tests.support.http import local_server

pytestmark = pytest.mark.django_db

ALL = [
    "booking.added",
    "booking.changed",
    "booking.cancelled",
    "conflict.opened",
    "conflict.resolved",
]


def timed_feed(start: str, end: str) -> bytes:
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Example//EN\nBEGIN:VEVENT\n"
        f"UID:t1@example.org\nDTSTART:{start}\nDTEND:{end}\nSUMMARY:Owner use\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n").encode()


def deliveries(endpoint) -> list[tuple[str, dict]]:
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    return [(d.event_type, d.payload) for d in rows]


def take(endpoint, seen: list) -> list[tuple[str, dict]]:
    """The deliveries queued since the last call."""
    current = deliveries(endpoint)
    new = current[len(seen) :]
    seen[:] = current
    return new


def test_bookings_and_conflicts_reach_the_owner_endpoint_only(alice, bob, allow_private_urls):
    mine = endpoint_create(alice, url="https://hooks.example.com/x", events=ALL)
    theirs = endpoint_create(bob, url="https://hooks.example.com/y", events=ALL)
    airbnb = Body(
        airbnb_feed(airbnb_event("a1", 10, 14), airbnb_event("b1", 20, 23, reserved=False))
    )
    vrbo = Body(vrbo_feed(("v0", 40, 42)))
    # Inside the import window (issue 9: events past today + 730 days are not imported).
    timed_day = day(100)
    timed = Body(timed_feed(f"{timed_day:%Y%m%d}T150000Z", f"{day(102):%Y%m%d}T100000Z"))
    routes = {"/a.ics": airbnb, "/v.ics": vrbo, "/t.ics": timed}
    seen: list = []
    with local_server(routes) as server:
        listing = make_listing(alice)
        feed_a = make_feed(listing, f"{server.url}/a.ics", Source.AIRBNB)
        feed_v = make_feed(listing, f"{server.url}/v.ics", Source.VRBO)
        feed_t = make_feed(make_listing(alice, name="Timed"), f"{server.url}/t.ics")

        # First import: every new blocking event is announced, in one batch.
        run_sync(feed_a)
        a1 = Event.objects.get(uid="a1@airbnb.com")
        b1 = Event.objects.get(uid="b1@airbnb.com")
        added = take(mine, seen)
        assert [t for t, _ in added] == ["booking.added", "booking.added"]
        assert {p["event"]["uid"] for _, p in added} == {a1.uid, b1.uid}
        payload = next(p for _, p in added if p["event"]["uid"] == a1.uid)
        assert payload == {
            "listing": listing.pk,
            "feed": feed_a.pk,
            "event": {
                "id": a1.pk,
                "uid": "a1@airbnb.com",
                "start": day(10).isoformat(),
                "end": day(14).isoformat(),
                "all_day": True,
                "summary": "Reserved",
                "status": "confirmed",
                "kind": "reservation",
            },
        }

        # Timed events carry UTC instants with a Z.
        run_sync(feed_t)
        ((event_type, timed_payload),) = take(mine, seen)
        assert event_type == "booking.added"
        assert timed_payload["event"]["start"] == f"{timed_day.isoformat()}T15:00:00Z"
        assert timed_payload["event"]["end"] == f"{day(102).isoformat()}T10:00:00Z"
        assert timed_payload["event"]["all_day"] is False

        # a1 moves, b1 disappears: changed and cancelled.
        airbnb.body, airbnb.etag = airbnb_feed(airbnb_event("a1", 11, 15)), '"v2"'
        run_sync(feed_a)
        changes = dict(take(mine, seen))
        assert set(changes) == {"booking.changed", "booking.cancelled"}
        assert changes["booking.changed"]["event"]["id"] == a1.pk
        assert changes["booking.changed"]["event"]["start"] == day(11).isoformat()
        assert changes["booking.cancelled"]["event"]["id"] == b1.pk
        assert changes["booking.cancelled"]["event"]["status"] == "cancelled"

        # An unchanged re-import (a new body, same events) says nothing.
        airbnb.body = airbnb_feed(airbnb_event("a1", 11, 15)).replace(
            b"VERSION", b"X-A:1\r\nVERSION"
        )
        airbnb.etag = '"v3"'
        run_sync(feed_a)
        assert take(mine, seen) == []

        # VRBO takes a booking overlapping a1 (11..15): added + conflict opened.
        vrbo.body, vrbo.etag = vrbo_feed(("v0", 40, 42), ("v2", 13, 17)), '"v2"'
        run_sync(feed_v)
        run_sync(feed_v)  # not modified: nothing more
        new = take(mine, seen)
        conflict = Conflict.objects.get()
        v2 = Event.objects.get(uid="v2")
        types = [t for t, _ in new]
        assert types.count("booking.added") == 2  # v0 (first import) and v2
        opened = [p for t, p in new if t == "conflict.opened"]
        window = StayWindow.of(listing)
        assert opened == [
            {
                "listing": listing.pk,
                "conflict": conflict.pk,
                # The shared nights 13 and 14: check-in of the first to check-out of the
                # last, in the listing's zone.
                "overlap_start": format_instant(window.check_in_at(day(13))),
                "overlap_end": format_instant(window.check_out_at(day(14))),
                "events": sorted([a1.pk, v2.pk]),
            }
        ]

        # STATUS:CANCELLED on v2: cancelled, and the conflict resolves.
        cancelled = vrbo_feed(("v0", 40, 42), ("v2", 13, 17)).replace(
            b"SUMMARY:Reserved - Maria\r\nEND:VEVENT\r\nEND:VCALENDAR",
            b"SUMMARY:Reserved - Maria\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR",
        )
        vrbo.body, vrbo.etag = cancelled, '"v3"'
        run_sync(feed_v)
        new = take(mine, seen)
        assert [t for t, _ in new] == ["booking.cancelled", "conflict.resolved"]
        assert new[0][1]["event"]["id"] == v2.pk
        assert new[1][1]["conflict"] == conflict.pk
        assert new[1][1]["events"] == sorted([a1.pk, v2.pk])

    assert deliveries(theirs) == []


def test_endpoint_gets_only_the_event_types_it_subscribed_to(alice, allow_private_urls):
    only_conflicts = endpoint_create(
        alice, url="https://hooks.example.com/c", events=["conflict.opened"]
    )
    with local_server({"/a.ics": Body(airbnb_feed(airbnb_event("a1", 10, 14)))}) as server:
        run_sync(make_feed(make_listing(alice), f"{server.url}/a.ics"))
    assert deliveries(only_conflicts) == []
