"""Owners dismiss a double booking with a note (issue 9, point 13).

It stays dismissed (no email, no webhook, not counted as open) while both events keep
their dates; when either moves and they still share a night, it comes back as a new alert.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail

from calendars.models import Conflict, Listing, Source
from calendars.services.dismissals import conflict_dismiss
from tests.calendars.test_import import Body, make_feed, run_sync
from tests.calendars.test_nights import all_day, calendar
from tests.support.http import local_server

pytestmark = pytest.mark.django_db


def day(offset: int) -> date:
    return date.today() + timedelta(days=offset)


@pytest.fixture
def double_booked(alice, allow_private_urls, django_capture_on_commit_callbacks):
    """Alice's listing: Airbnb and VRBO reservations sharing nights 12 and 13; one
    double-booking email sent."""
    airbnb = Body(calendar(all_day("a1@airbnb.com", day(10), day(14), "Reserved")))
    vrbo = Body(calendar(all_day("v1", day(12), day(16))))
    with local_server({"/a.ics": airbnb, "/v.ics": vrbo}) as server:
        listing = Listing.objects.create(owner=alice, name="Loft", timezone="Europe/Rome")
        feeds = {
            "airbnb": make_feed(listing, f"{server.url}/a.ics", Source.AIRBNB),
            "vrbo": make_feed(listing, f"{server.url}/v.ics", Source.VRBO),
        }

        def sync(*names):
            with django_capture_on_commit_callbacks(execute=True):
                return [run_sync(feeds[name]) for name in names]

        sync("airbnb", "vrbo")
        assert len(mail.outbox) == 1
        yield listing, {"airbnb": airbnb, "vrbo": vrbo}, sync


def test_dismissed_through_the_api_stays_quiet_until_a_booking_moves(
    double_booked, alice_api, client, alice
):
    listing, routes, sync = double_booked
    conflict = Conflict.objects.get()
    reply = alice_api.post(
        f"/api/v1/conflicts/{conflict.pk}/dismiss/", {"note": "Same family"}, format="json"
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["dismissed_note"] == "Same family"
    assert reply.json()["dismissed_at"] and reply.json()["open"] is True
    # Not counted as open anywhere an owner looks.
    client.force_login(alice)
    assert "double booking" not in client.get("/status/").content.decode()
    page = client.get("/calendars/conflicts/").content.decode()
    assert f'id="conflict-{conflict.pk}"' not in page
    assert f'id="dismissed-{conflict.pk}"' in page and "Same family" in page
    # The API's state filter tells them apart too.
    states = {
        state: [
            row["id"]
            for row in alice_api.get("/api/v1/conflicts/", {"state": state}).json()["results"]
        ]
        for state in ("open", "dismissed", "resolved")
    }
    assert states == {"open": [], "dismissed": [conflict.pk], "resolved": []}

    # Another change elsewhere in VRBO's feed, and the same dates: still dismissed, no mail.
    routes["vrbo"].body = calendar(all_day("v1", day(12), day(16)), all_day("v9", day(30), day(33)))
    routes["vrbo"].etag = '"v2"'
    sync("vrbo", "airbnb")
    conflict.refresh_from_db()
    assert conflict.dismissed_at and conflict.resolved_at is None
    assert Conflict.objects.count() == 1 and len(mail.outbox) == 1

    # VRBO's guest moves one day later, still sharing night 13: a new alert.
    routes["vrbo"].body, routes["vrbo"].etag = calendar(all_day("v1", day(13), day(16))), '"v3"'
    sync("vrbo")
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None
    reopened = Conflict.objects.get(resolved_at__isnull=True)
    assert reopened.pk != conflict.pk and reopened.dismissed_at is None
    assert len(mail.outbox) == 2
    assert "Loft" in mail.outbox[1].subject


def test_dismissing_from_the_conflicts_page(double_booked, client, alice):
    listing, routes, sync = double_booked
    conflict = Conflict.objects.get()
    client.force_login(alice)
    page = client.get("/calendars/conflicts/").content.decode()
    assert f'action="/calendars/conflicts/{conflict.pk}/dismiss/"' in page
    reply = client.post(f"/calendars/conflicts/{conflict.pk}/dismiss/", {"note": "Owner knows"})
    assert reply.status_code == 302
    conflict.refresh_from_db()
    assert conflict.dismissed_note == "Owner knows"
    # The month view no longer lists it as open.
    month = client.get(f"/calendars/listings/{listing.pk}/month/?month={day(12):%Y-%m}")
    assert "Open double bookings" not in month.content.decode()


def test_another_owner_cannot_dismiss(double_booked, bob_api, bob, client):
    conflict = Conflict.objects.get()
    assert bob_api.post(f"/api/v1/conflicts/{conflict.pk}/dismiss/", {}).status_code == 404
    client.force_login(bob)
    assert client.post(f"/calendars/conflicts/{conflict.pk}/dismiss/").status_code == 404
    conflict.refresh_from_db()
    assert conflict.dismissed_at is None


def test_a_resolved_conflict_cannot_be_dismissed(double_booked, alice_api):
    listing, routes, sync = double_booked
    routes["vrbo"].body, routes["vrbo"].etag = calendar(), '"gone"'
    sync("vrbo")
    conflict = Conflict.objects.get()
    assert conflict.resolved_at is not None
    reply = alice_api.post(f"/api/v1/conflicts/{conflict.pk}/dismiss/", {"note": "late"})
    assert reply.status_code == 409


def test_staff_see_dismissals_and_echoes_in_the_admin(double_booked, client, staff):
    conflict = Conflict.objects.get()
    conflict_dismiss(conflict, note="Same family")
    client.force_login(staff)
    page = client.get("/admin/calendars/conflict/")
    assert page.status_code == 200 and "Dismissed at" in page.content.decode()
    assert client.get(f"/admin/calendars/conflict/{conflict.pk}/change/").status_code == 200
    events = client.get("/admin/calendars/event/")
    assert events.status_code == 200 and "Echo of" in events.content.decode()
