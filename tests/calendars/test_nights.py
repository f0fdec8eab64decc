"""Double bookings are decided by nights in the listing's own zone (issue 9, point 9).

Feeds are served over HTTP on 127.0.0.1 and imported through the engine; the listing's
zone decides which nights a timed event holds, across daylight-saving changes too.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.models import Conflict, Event, Feed, Listing, Source
from calendars.services import conflicts
from calendars.services.conflicts import detect_conflicts
from calendars.services.nights import StayWindow, held_nights
from tests.calendars.test_import import Body, make_feed, run_sync
from tests.support.http import local_server

pytestmark = pytest.mark.django_db


# --- feeds in each channel's style (shared by the other issue-9 test modules) --------------


def vevent(uid: str, start: str, end: str, summary: str, description: str = "") -> str:
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", start, end]
    lines.append(f"SUMMARY:{summary}")
    if description:
        lines.append(f"DESCRIPTION:{description}")
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def all_day(uid: str, first: date, stop: date, summary: str = "Reserved - Maria") -> str:
    """An all-day VEVENT from ``first`` to ``stop`` (exclusive, the checkout day)."""
    return vevent(
        uid,
        f"DTSTART;VALUE=DATE:{first:%Y%m%d}",
        f"DTEND;VALUE=DATE:{stop:%Y%m%d}",
        summary,
    )


def timed(uid: str, start: datetime, end: datetime, summary: str = "Busy") -> str:
    """A timed VEVENT, written in UTC ("Z") as Google Calendar does."""
    fmt = "%Y%m%dT%H%M%SZ"
    return vevent(
        uid,
        f"DTSTART:{start.astimezone(UTC).strftime(fmt)}",
        f"DTEND:{end.astimezone(UTC).strftime(fmt)}",
        summary,
    )


def calendar(*events: str, prodid: str = "-//Syncbeat tests//EN") -> bytes:
    head = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{prodid}\r\nCALSCALE:GREGORIAN\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def local(tz: str, d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=zoneinfo.ZoneInfo(tz))


def listing_in(owner, tz: str) -> Listing:
    return Listing.objects.create(owner=owner, name=f"Flat in {tz}", timezone=tz)


def sync_all(feeds, capture) -> None:
    with capture(execute=True):
        for feed in feeds:
            run_sync(feed)


def pair(conflict: Conflict) -> set[str]:
    return {
        Event.objects.get(pk=conflict.event_a_id).uid,
        Event.objects.get(pk=conflict.event_b_id).uid,
    }


# --- through the import -------------------------------------------------------------------

LA = "America/Los_Angeles"


def test_los_angeles_last_night_taken_evening_before_check_in_free(
    alice, allow_private_urls, django_capture_on_commit_callbacks
):
    """The issue's bug: an all-day stay compared in UTC with timed events. In Los Angeles
    (UTC-7/-8) an 18:00 event on the stay's last night starts after midnight UTC of the
    checkout day (missed), and one on the evening before check-in ends after midnight UTC
    of the check-in day (a false alarm). Across the spring-forward change (14 March 2027)."""
    stay = all_day("r1", date(2027, 3, 12), date(2027, 3, 15))  # nights 12, 13, 14
    busy = [
        timed("last-night", local(LA, date(2027, 3, 14), 18), local(LA, date(2027, 3, 14), 21)),
        timed("eve-before", local(LA, date(2027, 3, 11), 18), local(LA, date(2027, 3, 11), 21)),
        timed("cleaning", local(LA, date(2027, 3, 15), 10), local(LA, date(2027, 3, 15), 13)),
    ]
    routes = {"/vrbo.ics": Body(calendar(stay)), "/google.ics": Body(calendar(*busy))}
    with local_server(routes) as server:
        listing = listing_in(alice, LA)
        feeds = [
            make_feed(listing, f"{server.url}/vrbo.ics", Source.VRBO),
            make_feed(listing, f"{server.url}/google.ics", Source.GOOGLE),
        ]
        sync_all(feeds, django_capture_on_commit_callbacks)
    conflict = Conflict.objects.get()
    assert pair(conflict) == {"r1", "last-night"}
    # Night 14 March: check-in 15:00 PDT (UTC-7, after the change) to 11:00 PDT next day.
    assert conflict.overlap_start == datetime(2027, 3, 14, 22, 0, tzinfo=UTC)
    assert conflict.overlap_end == datetime(2027, 3, 15, 18, 0, tzinfo=UTC)
    # The incremental detection of each import agrees with a detection of the whole listing.
    changes = detect_conflicts(listing.pk, now=datetime.now(UTC))
    assert (changes.opened, changes.resolved) == (0, 0)


BERLIN = "Europe/Berlin"


def test_europe_timed_stay_across_dst_shares_one_night(
    alice, allow_private_urls, django_capture_on_commit_callbacks
):
    """Berlin springs forward on 28 March 2027. A timed reservation from 16:00 on the 28th
    shares that night with an all-day stay ending on the 29th; a 09:00-12:00 turnover on
    the 29th and a stay from the 29th share nothing."""
    airbnb = calendar(all_day("a1", date(2027, 3, 26), date(2027, 3, 29), "Reserved"))
    owner_rez = calendar(
        timed(
            "or1",
            local(BERLIN, date(2027, 3, 28), 16),
            local(BERLIN, date(2027, 3, 30), 10),
            "Booked",
        ),
        timed(
            "or2",
            local(BERLIN, date(2027, 3, 29), 11, 30),
            local(BERLIN, date(2027, 3, 29), 14),
            "Booked",
        ),
    )
    vrbo = calendar(all_day("v1", date(2027, 3, 29), date(2027, 4, 2)))
    routes = {"/a.ics": Body(airbnb), "/o.ics": Body(owner_rez), "/v.ics": Body(vrbo)}
    with local_server(routes) as server:
        listing = listing_in(alice, BERLIN)
        feeds = [
            make_feed(listing, f"{server.url}/a.ics", Source.AIRBNB),
            make_feed(listing, f"{server.url}/o.ics", Source.OTHER),
            make_feed(listing, f"{server.url}/v.ics", Source.VRBO),
        ]
        sync_all(feeds, django_capture_on_commit_callbacks)
    pairs = {frozenset(pair(c)): c for c in Conflict.objects.all()}
    # or1 holds nights 28 and 29: it meets a1 on the 28th and v1 on the 29th.
    assert set(pairs) == {frozenset({"a1", "or1"}), frozenset({"or1", "v1"})}
    first = pairs[frozenset({"a1", "or1"})]
    # 15:00 CEST (UTC+2, after the change) on the 28th to 11:00 CEST on the 29th.
    assert first.overlap_start == datetime(2027, 3, 28, 13, 0, tzinfo=UTC)
    assert first.overlap_end == datetime(2027, 3, 29, 9, 0, tzinfo=UTC)


def test_moving_a_timed_event_off_the_night_resolves_the_conflict(
    alice, allow_private_urls, django_capture_on_commit_callbacks
):
    evening = timed("g1", local(LA, date(2027, 5, 3), 18), local(LA, date(2027, 5, 3), 21))
    google = Body(calendar(evening))
    routes = {
        "/v.ics": Body(calendar(all_day("r1", date(2027, 5, 1), date(2027, 5, 4)))),
        "/g.ics": google,
    }
    with local_server(routes) as server:
        listing = listing_in(alice, LA)
        feeds = [
            make_feed(listing, f"{server.url}/v.ics", Source.VRBO),
            make_feed(listing, f"{server.url}/g.ics", Source.GOOGLE),
        ]
        sync_all(feeds, django_capture_on_commit_callbacks)
        assert Conflict.objects.get().is_open
        # The same slot moved to the check-out morning: no night held, resolved.
        google.body = calendar(
            timed("g1", local(LA, date(2027, 5, 4), 10), local(LA, date(2027, 5, 4), 13))
        )
        google.etag = '"v2"'
        sync_all(feeds[1:], django_capture_on_commit_callbacks)
    assert not Conflict.objects.get().is_open


# --- the rule itself ------------------------------------------------------------------------


def window(tz: str, check_in: time = time(15), check_out: time = time(11)) -> StayWindow:
    return StayWindow(tz=zoneinfo.ZoneInfo(tz), check_in=check_in, check_out=check_out)


@pytest.mark.parametrize(
    ("start", "end", "nights"),
    [
        ((4, 10), (4, 13), None),  # cleaning beside a stay
        ((4, 18), (4, 21), (4, 5)),  # an evening holds its night
        ((4, 2), (4, 5), (3, 4)),  # small hours belong to the night before
        ((4, 16), (7, 11), (4, 7)),  # a timed stay: three nights
        ((4, 10), (7, 11), (4, 7)),  # early check-in does not take the night before
        ((4, 15), (7, 13), (4, 7)),  # late check-out does not take the next night
        ((4, 20), (5, 12), (4, 5)),  # an overnight past check-out
        ((4, 11), (4, 15), None),  # exactly the day-time gap
    ],
)
def test_held_nights_of_timed_events(start, end, nights):
    w = window(BERLIN)
    d = date(2027, 3, 1)

    def at(day_hour):
        return local(BERLIN, d.replace(day=day_hour[0]), day_hour[1]).astimezone(UTC)

    expected = None if nights is None else (d.replace(day=nights[0]), d.replace(day=nights[1]))
    assert held_nights(at(start), at(end), False, w) == expected


def test_held_nights_of_all_day_events_are_their_dates():
    w = window(LA)
    start = datetime(2027, 3, 12, tzinfo=UTC)
    assert held_nights(start, datetime(2027, 3, 15, tzinfo=UTC), True, w) == (
        date(2027, 3, 12),
        date(2027, 3, 15),
    )
    assert held_nights(start, start, True, w) is None


def test_stay_window_follows_the_listing_times_and_dst():
    w = window(BERLIN, check_in=time(16), check_out=time(10))
    # Autumn: 31 October 2027, CEST (UTC+2) to CET (UTC+1) in the night.
    assert w.check_in_at(date(2027, 10, 30)) == datetime(2027, 10, 30, 14, tzinfo=UTC)
    assert w.check_out_at(date(2027, 10, 30)) == datetime(2027, 10, 31, 9, tzinfo=UTC)


def test_stay_times_are_the_listings_and_changing_them_decides_again(
    alice, alice_api, client, allow_private_urls, django_capture_on_commit_callbacks
):
    """A 09:00-13:00 slot on the check-out day spends as long before the 11:00 check-out as
    after it: no night. With check-out at 12:00 it holds the last night: a double booking,
    decided as soon as the owner saves the time (API), and undone on the listing's page."""
    stay = all_day("r1", date(2027, 6, 12), date(2027, 6, 15))
    slot = timed("g1", local(LA, date(2027, 6, 15), 9), local(LA, date(2027, 6, 15), 13))
    routes = {"/v.ics": Body(calendar(stay)), "/g.ics": Body(calendar(slot))}
    with local_server(routes) as server:
        listing = listing_in(alice, LA)
        feeds = [
            make_feed(listing, f"{server.url}/v.ics", Source.VRBO),
            make_feed(listing, f"{server.url}/g.ics", Source.GOOGLE),
        ]
        sync_all(feeds, django_capture_on_commit_callbacks)
    assert not Conflict.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        reply = alice_api.patch(f"/api/v1/listings/{listing.pk}/", {"check_out_time": "12:00"})
    assert reply.status_code == 200, reply.content
    assert reply.json()["check_out_time"] == "12:00:00"
    conflict = Conflict.objects.get()
    assert conflict.is_open and pair(conflict) == {"r1", "g1"}
    assert conflict.overlap_end == local(LA, date(2027, 6, 15), 12).astimezone(UTC)

    client.force_login(alice)
    page = client.post(
        f"/calendars/listings/{listing.pk}/edit/",
        {"name": listing.name, "timezone": LA, "check_in_time": "15:00", "check_out_time": "11:00"},
    )
    assert page.status_code == 302
    conflict.refresh_from_db()
    assert not conflict.is_open


# --- properties ---------------------------------------------------------------------------

ZONES = [
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/Lisbon",
    "Australia/Sydney",
    "Pacific/Chatham",
]
BASE = datetime(2027, 3, 1, tzinfo=UTC)  # spans the March and April DST changes


def _window_overlap(start, end, night, w) -> timedelta:
    return max(timedelta(0), min(end, w.check_out_at(night)) - max(start, w.check_in_at(night)))


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    offset=st.integers(min_value=0, max_value=60 * 24 * 60),  # minutes from BASE
    length=st.integers(min_value=1, max_value=6 * 24 * 60),
)
def test_held_nights_are_the_overlapped_windows_in_one_run(zone, offset, length):
    w = window(zone)
    start = BASE + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)
    nights = held_nights(start, end, False, w)
    local_first = start.astimezone(w.tz).date() - timedelta(days=2)
    candidates = [local_first + timedelta(days=n) for n in range(length // 1440 + 5)]
    overlapped = [d for d in candidates if _window_overlap(start, end, d, w) > timedelta(0)]
    if nights is None:
        # Nothing held: at most the edge windows clipped, each less than the gap beside it.
        assert all(_window_overlap(start, end, d, w) <= timedelta(hours=4) for d in overlapped)
        return
    held = [nights[0] + timedelta(days=n) for n in range((nights[1] - nights[0]).days)]
    assert set(held) <= set(overlapped)  # every held night's window is overlapped
    # Only the first and last overlapped windows may be left out (clipped edges).
    assert set(overlapped) - set(held) <= {overlapped[0], overlapped[-1]}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zone=st.sampled_from(ZONES),
    events=st.lists(
        st.tuples(
            st.integers(0, 2),  # feed
            st.integers(0, 12 * 24),  # start, hours from BASE
            st.integers(2, 4 * 24),  # length in hours
            st.booleans(),  # all-day
            st.sampled_from(["reservation", "block", "owner_stay", "maintenance"]),
        ),
        min_size=2,
        max_size=14,
    ),
    moves=st.lists(st.tuples(st.integers(0, 13), st.integers(-72, 72)), max_size=5),
    many=st.booleans(),
)
def test_incremental_detection_agrees_with_a_whole_listing_detection(
    alice, zone, events, moves, many
):
    """After a new event and any moves, the import-style detection (only the changed
    events) leaves the open conflicts exactly as a detection of the whole listing would;
    ``many``: as for a change set too big for span clauses (a new feed), which reads the
    whole listing and keeps the pairs involving a changed event."""
    clauses = 0 if many else conflicts.SPAN_CLAUSES
    with transaction.atomic(), mock.patch.object(conflicts, "SPAN_CLAUSES", clauses):
        listing = listing_in(alice, zone)
        feeds = [
            Feed.objects.create(listing=listing, url=f"https://example.com/{n}.ics", tier="6h")
            for n in range(3)
        ]
        rows = []
        now = BASE
        for n, (feed, hours, length, is_all_day, kind) in enumerate(events):
            if n == len(events) - 1:  # the last one arrives with the import
                detect_conflicts(listing.pk, now=now)
            start = BASE + timedelta(hours=hours)
            end = start + timedelta(hours=length)
            if is_all_day:
                start = start.replace(hour=0)
                end = max(end.replace(hour=0), start + timedelta(days=1))
            rows.append(
                Event.objects.create(
                    feed=feeds[feed],
                    uid=str(n),
                    start=start,
                    end=end,
                    all_day=is_all_day,
                    kind=kind,
                )
            )
        changed = [rows[-1].pk]
        for index, hours in moves:
            if index < len(rows):
                event = rows[index]
                shift = timedelta(days=hours // 24) if event.all_day else timedelta(hours=hours)
                Event.objects.filter(pk=event.pk).update(
                    start=event.start + shift, end=event.end + shift
                )
                changed.append(event.pk)
        detect_conflicts(listing.pk, now=now, changed_event_ids=changed)
        incremental = set(
            Conflict.objects.filter(resolved_at__isnull=True).values_list(
                "event_a_id", "event_b_id", "overlap_start", "overlap_end"
            )
        )
        again = detect_conflicts(listing.pk, now=now)
        assert (again.opened, again.resolved) == (0, 0)
        assert incremental == set(
            Conflict.objects.filter(resolved_at__isnull=True).values_list(
                "event_a_id", "event_b_id", "overlap_start", "overlap_end"
            )
        )
        transaction.set_rollback(True)


def test_an_import_finds_a_stay_whose_nights_meet_but_instants_do_not(alice):
    """The stay's last night in Los Angeles ends after its all-day end in UTC: detection of
    the new evening event must read the stay although their stored instants never meet."""
    listing = listing_in(alice, LA)
    feeds = [
        Feed.objects.create(listing=listing, url=f"https://example.com/{n}.ics", tier="6h")
        for n in range(2)
    ]
    Event.objects.create(
        feed=feeds[0],
        uid="stay",
        start=datetime(2027, 3, 12, tzinfo=UTC),
        end=datetime(2027, 3, 15, tzinfo=UTC),
        all_day=True,
        kind="reservation",
    )
    evening = Event.objects.create(
        feed=feeds[1],
        uid="evening",
        start=local(LA, date(2027, 3, 14), 18),
        end=local(LA, date(2027, 3, 14), 21),
        kind="block",
    )
    assert evening.start > datetime(2027, 3, 15, tzinfo=UTC)  # after the stay, in UTC
    changes = detect_conflicts(listing.pk, now=BASE, changed_event_ids=[evening.pk])
    assert changes.opened == 1


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_timed_events_at_the_ends_of_time_hold_nights_without_overflowing(tz):
    # A block "until the end of time" (9999-12-31, after check-in) and one "since forever".
    forever = held_nights(
        datetime(2027, 3, 1, 16, tzinfo=UTC),
        datetime(9999, 12, 31, 18, tzinfo=UTC),
        False,
        window(tz),
    )
    assert (
        forever is not None and forever[0] <= date(2027, 3, 2) and forever[1] >= date(9999, 12, 1)
    )
    always = held_nights(
        datetime(1, 1, 1, 0, tzinfo=UTC), datetime(2027, 3, 1, 20, tzinfo=UTC), False, window(tz)
    )
    assert always is not None and always[0] <= date(1, 1, 10) and always[1] >= date(2027, 3, 1)
