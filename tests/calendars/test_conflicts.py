"""Double bookings across channels: opened once, emailed once, resolved by themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail

from calendars.ics.classify import classify
from calendars.models import Conflict, Event, EventKind, EventStatus, Source
from calendars.services.conflicts import NightRun, detect_conflicts, night_pairs
from calendars.services.nights import StayWindow
from tests.calendars.test_import import (
    Body,
    airbnb_event,
    airbnb_feed,
    day,
    ics_date,
    make_feed,
    make_listing,
    run_sync,
    vrbo_feed,
)
from tests.calendars.test_nights import all_day, calendar, local, pair, timed
from tests.support.http import local_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_channels(alice, allow_private_urls):
    """Alice's listing with an Airbnb feed and a VRBO feed served locally."""
    airbnb = Body(airbnb_feed(airbnb_event("a1", 10, 14)))
    vrbo = Body(vrbo_feed(("v1", 20, 24)))
    with local_server({"/airbnb.ics": airbnb, "/vrbo.ics": vrbo}) as server:
        listing = make_listing(alice)
        feeds = {
            "airbnb": make_feed(listing, f"{server.url}/airbnb.ics", Source.AIRBNB),
            "vrbo": make_feed(listing, f"{server.url}/vrbo.ics", Source.VRBO),
        }
        yield listing, feeds, {"airbnb": airbnb, "vrbo": vrbo}


def sync_all(feeds, capture):
    with capture(execute=True):
        return {name: run_sync(feed) for name, feed in feeds.items()}


def test_overlap_across_channels_opens_once_emails_once_then_resolves(
    two_channels, django_capture_on_commit_callbacks
):
    listing, feeds, routes = two_channels
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert not Conflict.objects.exists()

    # VRBO takes a booking that overlaps Airbnb's 10..14 (12..16).
    routes["vrbo"].body, routes["vrbo"].etag = vrbo_feed(("v1", 20, 24), ("v2", 12, 16)), '"v2"'
    attempts = sync_all(feeds, django_capture_on_commit_callbacks)
    assert attempts["vrbo"].counts["conflicts_opened"] == 1
    conflict = Conflict.objects.get()
    a, b = Event.objects.get(uid="a1@airbnb.com"), Event.objects.get(uid="v2")
    assert (conflict.event_a_id, conflict.event_b_id) == tuple(sorted([a.pk, b.pk]))
    # The shared nights, from the first one's check-in to the last one's check-out, in the
    # listing's zone (Europe/Lisbon, 15:00 and 11:00).
    window = StayWindow.of(listing)
    assert conflict.overlap_start == window.check_in_at(b.start_value)
    assert conflict.overlap_end == window.check_out_at(a.end_value - timedelta(days=1))
    assert conflict.listing == listing and conflict.notified_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert listing.name in mail.outbox[0].subject

    # Another change elsewhere in the feed: the conflict stays one, no second email.
    routes["vrbo"].body, routes["vrbo"].etag = (
        vrbo_feed(("v1", 21, 24), ("v2", 12, 16)),
        '"v3"',
    )
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert Conflict.objects.count() == 1
    assert len(mail.outbox) == 1

    # Airbnb's guest cancels: the conflict resolves itself.
    routes["airbnb"].body, routes["airbnb"].etag = airbnb_feed(), '"a2"'
    attempts = sync_all(feeds, django_capture_on_commit_callbacks)
    assert attempts["airbnb"].counts["conflicts_resolved"] == 1
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None
    assert Event.objects.get(uid="a1@airbnb.com").status == EventStatus.CANCELLED


def test_checkout_day_equal_to_checkin_day_is_not_a_conflict(
    two_channels, django_capture_on_commit_callbacks
):
    listing, feeds, routes = two_channels
    # Airbnb 10..14 (checkout on the 14th), VRBO checks in on the 14th.
    routes["vrbo"].body = vrbo_feed(("v1", 14, 18), ("v0", 6, 10))
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert Event.objects.filter(blocking=True).count() == 3
    assert not Conflict.objects.exists()
    assert mail.outbox == []


def test_overlap_within_one_feed_is_not_a_conflict(alice, allow_private_urls):
    route = Body(airbnb_feed(airbnb_event("a1", 10, 14), airbnb_event("a2", 12, 16)))
    with local_server({"/a.ics": route}) as server:
        feed = make_feed(make_listing(alice), f"{server.url}/a.ics")
        run_sync(feed)
    assert not Conflict.objects.exists()


def test_non_blocking_events_never_conflict(two_channels, django_capture_on_commit_callbacks):
    listing, feeds, routes = two_channels
    transparent = (
        "BEGIN:VEVENT\nUID:t1@airbnb.com\nTRANSP:TRANSPARENT\nSUMMARY:Note\n"
        f"DTSTART;VALUE=DATE:{ics_date(20)}\n"
        "DURATION:P2D\nEND:VEVENT\n"
    )
    routes["airbnb"].body = airbnb_feed(transparent)
    sync_all(feeds, django_capture_on_commit_callbacks)
    assert Event.objects.get(uid="t1@airbnb.com").blocking is False
    assert not Conflict.objects.exists()


def test_detection_reopens_after_a_resolved_overlap_returns(alice):
    listing = make_listing(alice)
    f1 = make_feed(listing, "https://www.airbnb.com/calendar/ical/1.ics")
    f2 = make_feed(listing, "https://www.vrbo.com/icalendar/2.ics")
    now = datetime.now(UTC)
    start = now.replace(microsecond=0)
    end = start.replace(year=start.year + 1)
    e1, e2 = (
        Event.objects.create(feed=f, uid=uid, start=start, end=end, kind=EventKind.RESERVATION)
        for f, uid in ((f1, "1"), (f2, "2"))
    )
    assert detect_conflicts(listing.pk, now=now).opened == 1
    Event.objects.filter(pk=e2.pk).update(status=EventStatus.CANCELLED, blocking=False)
    assert detect_conflicts(listing.pk, now=now).resolved == 1
    Event.objects.filter(pk=e2.pk).update(status=EventStatus.CONFIRMED, blocking=True)
    assert detect_conflicts(listing.pk, now=now).opened == 1
    assert Conflict.objects.filter(event_a=e1, event_b=e2).count() == 2
    assert Conflict.objects.filter(resolved_at__isnull=True).count() == 1


def test_night_pairs_sweep_by_kind():
    d = [date(2030, 1, n) for n in range(1, 12)]
    res, block, owner, care = (
        EventKind.RESERVATION,
        EventKind.BLOCK,
        EventKind.OWNER_STAY,
        EventKind.MAINTENANCE,
    )
    runs = [
        NightRun(1, 1, res, d[0], d[4]),  # feed 1: nights 1..4
        NightRun(2, 2, res, d[3], d[5]),  # feed 2: shares night 4 with 1
        NightRun(3, 3, block, d[4], d[6]),  # feed 3 block: shares night 5 with 2, touches 1
        NightRun(4, 2, block, d[0], d[2]),  # feed 2 block vs feed 1 reservation: real
        NightRun(5, 3, block, d[0], d[2]),  # block + block (4): never
        NightRun(6, 1, care, d[4], d[5]),  # maintenance: never
        NightRun(7, 4, owner, d[8], d[10]),  # owner stay vs reservation 8: like a block
        NightRun(8, 1, res, d[9], d[10]),
        NightRun(9, 1, block, d[9], d[10]),  # same feed as 8: never
    ]
    assert night_pairs(runs) == {
        (1, 2): (d[3], d[4]),
        (2, 3): (d[4], d[5]),
        (1, 4): (d[0], d[2]),
        (1, 5): (d[0], d[2]),
        (7, 8): (d[9], d[10]),
    }


def test_the_owner_status_page_names_open_double_bookings(
    two_channels, django_capture_on_commit_callbacks, client, alice, bob
):
    listing, feeds, routes = two_channels
    routes["vrbo"].body, routes["vrbo"].etag = vrbo_feed(("v2", 12, 16)), '"v2"'
    sync_all(feeds, django_capture_on_commit_callbacks)
    client.force_login(alice)
    page = client.get("/status/").content.decode()
    assert f"{listing.name}: 1 double booking between channels to sort out." in page
    client.force_login(bob)
    assert "double booking" not in client.get("/status/").content.decode()


# --- kinds: what is a double booking (issue 9, point 10) ----------------------------------


@pytest.fixture
def kinds_listing(alice, allow_private_urls, django_capture_on_commit_callbacks):
    """An Airbnb stay (nights 10-13) beside a VRBO block, an owner calendar with a cleaning
    and an owner stay, and two channels blocking the same later dates."""
    airbnb = Body(
        airbnb_feed(airbnb_event("a1", 10, 14), airbnb_event("a2", 20, 22, reserved=False))
    )
    vrbo = Body(calendar(all_day("v-block", day(12), day(13), "Blocked")))
    owner = Body(
        calendar(
            all_day("clean", day(11), day(12), "Cleaning"),
            all_day("mine", day(13), day(15), "Owner stay"),
            timed(
                "turnover",
                local("Europe/Lisbon", day(14), 11),
                local("Europe/Lisbon", day(14), 14),
                "Turnover cleaning",
            ),
        )
    )
    booking = Body(calendar(all_day("b-closed", day(20), day(22), "CLOSED - Not available")))
    routes = {"/a.ics": airbnb, "/v.ics": vrbo, "/o.ics": owner, "/b.ics": booking}
    with local_server(routes) as server:
        listing = make_listing(alice)
        feeds = {
            "airbnb": make_feed(listing, f"{server.url}/a.ics", Source.AIRBNB),
            "vrbo": make_feed(listing, f"{server.url}/v.ics", Source.VRBO),
            "owner": make_feed(listing, f"{server.url}/o.ics", Source.GOOGLE),
            "booking": make_feed(listing, f"{server.url}/b.ics", Source.BOOKING),
        }
        sync_all(feeds, django_capture_on_commit_callbacks)
        yield listing, feeds, {"airbnb": airbnb, "vrbo": vrbo, "owner": owner, "booking": booking}


def open_pairs() -> set[frozenset[str]]:
    return {frozenset(pair(c)) for c in Conflict.objects.filter(resolved_at__isnull=True)}


def test_only_real_double_bookings_open_and_maintenance_is_a_note(kinds_listing, client, alice):
    listing, feeds, routes = kinds_listing
    kinds = dict(Event.objects.values_list("uid", "kind"))
    assert kinds == {
        "a1@airbnb.com": EventKind.RESERVATION,
        "a2@airbnb.com": EventKind.BLOCK,
        "v-block": EventKind.BLOCK,
        "clean": EventKind.MAINTENANCE,
        "turnover": EventKind.MAINTENANCE,
        "mine": EventKind.OWNER_STAY,
        "b-closed": EventKind.BLOCK,
    }
    # A reservation and a block from another channel, a reservation and an owner stay;
    # not the cleaning, not Airbnb's and Booking.com's blocks of the same dates.
    assert open_pairs() == {
        frozenset({"a1@airbnb.com", "v-block"}),
        frozenset({"a1@airbnb.com", "mine"}),
    }
    assert len(mail.outbox) == 1
    client.force_login(alice)
    page = client.get(f"/calendars/listings/{listing.pk}/month/?month={day(11):%Y-%m}")
    clean = Event.objects.get(uid="clean")
    assert f'id="maintenance-{clean.pk}"' in page.content.decode()
    assert f'id="maintenance-{clean.pk}"' in client.get("/calendars/conflicts/").content.decode()
    # The cleaning on the check-out day is a turnover, not during the stay.
    turnover = Event.objects.get(uid="turnover")
    assert f'id="maintenance-{turnover.pk}"' not in page.content.decode()


def test_owner_sets_an_event_kind_through_the_api_and_it_survives_imports(
    kinds_listing, alice_api, bob_api, django_capture_on_commit_callbacks
):
    listing, feeds, routes = kinds_listing
    block = Event.objects.get(uid="v-block")
    assert (
        bob_api.patch(f"/api/v1/events/{block.pk}/", {"kind_override": "maintenance"}).status_code
        == 404
    )
    bad = alice_api.patch(f"/api/v1/events/{block.pk}/", {"kind_override": "party"})
    assert bad.status_code == 400
    reply = alice_api.patch(f"/api/v1/events/{block.pk}/", {"kind_override": "maintenance"})
    assert reply.status_code == 200, reply.content
    assert reply.json()["effective_kind"] == "maintenance" and reply.json()["kind"] == "block"
    assert open_pairs() == {frozenset({"a1@airbnb.com", "mine"})}  # at once, no sync
    assert alice_api.put(f"/api/v1/events/{block.pk}/", {}).status_code == 405

    routes["vrbo"].body = calendar(
        all_day("v-block", day(12), day(13), "Blocked"), all_day("v2", day(40), day(41), "Blocked")
    )
    routes["vrbo"].etag = '"v2"'
    sync_all({"vrbo": feeds["vrbo"]}, django_capture_on_commit_callbacks)
    block.refresh_from_db()
    assert block.kind_override == "maintenance"
    assert open_pairs() == {frozenset({"a1@airbnb.com", "mine"})}


def test_feed_kind_through_the_api_and_the_event_control_on_the_page(
    kinds_listing, alice_api, client, alice, django_capture_on_commit_callbacks
):
    listing, feeds, routes = kinds_listing
    owner_feed = feeds["owner"]
    reply = alice_api.patch(f"/api/v1/feeds/{owner_feed.pk}/", {"event_kind": "maintenance"})
    assert reply.status_code == 200, reply.content
    assert reply.json()["event_kind"] == "maintenance"
    assert set(Event.objects.filter(feed=owner_feed).values_list("kind", flat=True)) == {
        "maintenance"
    }
    assert open_pairs() == {frozenset({"a1@airbnb.com", "v-block"})}

    # Back to reading each event's wording: the owner stay is one again.
    alice_api.patch(f"/api/v1/feeds/{owner_feed.pk}/", {"event_kind": ""})
    assert Event.objects.get(uid="mine").kind == EventKind.OWNER_STAY
    assert frozenset({"a1@airbnb.com", "mine"}) in open_pairs()

    # The month page's control: the cleaning was really a guest of the owner's (a
    # reservation): a double booking with Airbnb's guest, alerted.
    client.force_login(alice)
    clean = Event.objects.get(uid="clean")
    page = client.get(f"/calendars/listings/{listing.pk}/month/?month={day(11):%Y-%m}")
    assert f'action="/calendars/events/{clean.pk}/kind/"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(f"/calendars/events/{clean.pk}/kind/", {"kind": "reservation"})
    assert reply.status_code == 302
    assert frozenset({"a1@airbnb.com", "clean"}) in open_pairs()
    assert len(mail.outbox) == 2


def test_feed_form_sets_the_feed_kind(kinds_listing, client, alice):
    listing, feeds, routes = kinds_listing
    feed = feeds["vrbo"]
    client.force_login(alice)
    assert 'name="event_kind"' in client.get(f"/calendars/feeds/{feed.pk}/edit/").content.decode()
    reply = client.post(
        f"/calendars/feeds/{feed.pk}/edit/",
        {
            "url": feed.url,
            "name": "",
            "source": "vrbo",
            "export_back": "on",
            "event_kind": "owner_stay",
        },
    )
    assert reply.status_code == 302
    feed.refresh_from_db()
    assert feed.event_kind == EventKind.OWNER_STAY
    assert Event.objects.get(uid="v-block").kind == EventKind.OWNER_STAY
    assert frozenset({"a1@airbnb.com", "v-block"}) in open_pairs()


@pytest.mark.parametrize(
    ("summary", "description", "kind"),
    [
        ("Reserved", "", EventKind.RESERVATION),
        ("1355078859895588226 Reserved", "", EventKind.RESERVATION),
        ("Reserved - Jane D", "", EventKind.RESERVATION),
        ("Booked", "", EventKind.RESERVATION),
        ("Airbnb (Not available)", "", EventKind.BLOCK),
        ("CLOSED - Not available", "", EventKind.BLOCK),
        ("CLOSED \u2013 Not available", "", EventKind.BLOCK),
        ("Blocked", "", EventKind.BLOCK),
        ("Not available", "", EventKind.BLOCK),
        ("Owner stay", "", EventKind.OWNER_STAY),
        ("Owner Block", "", EventKind.OWNER_STAY),
        ("Blocked: Owner", "", EventKind.OWNER_STAY),
        ("Cleaning", "", EventKind.MAINTENANCE),
        ("Turnover clean", "", EventKind.MAINTENANCE),
        ("Maintenance - plumber", "", EventKind.MAINTENANCE),
        ("Busy", "", EventKind.BLOCK),
        (
            "",
            "Reservation URL: https://www.airbnb.com/hosting/reservations/details/X",
            EventKind.RESERVATION,
        ),
    ],
)
def test_channel_wording(summary, description, kind):
    assert classify(summary, description) == kind
