"""Issue 12 point 4: "New export link" keeps the old link working for a grace period, and the
owner's page says until when; past it the old link answers 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendars.models import Listing
from tests.calendars.test_import import make_listing

pytestmark = pytest.mark.django_db


def test_the_page_says_until_when_the_old_link_works_and_then_it_stops(client, alice):
    client.force_login(alice)
    listing = make_listing(alice, name="Seaside cottage")
    old = listing.export_token
    response = client.post(f"/calendars/listings/{listing.pk}/regenerate-export/", follow=True)
    assert response.status_code == 200
    listing.refresh_from_db()
    html = response.content.decode()
    assert listing.export_token != old and listing.export_token in html
    assert "the old link keeps working until" in html  # the message after the click
    assert "The old link keeps working until" in html  # on the listing's card
    assert str(listing.previous_export_expires_at.year) in html
    assert client.get(f"/calendars/{old}.ics").status_code == 200

    Listing.objects.filter(pk=listing.pk).update(
        previous_export_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert client.get(f"/calendars/{old}.ics").status_code == 404
    assert "old link keeps working" not in client.get("/calendars/").content.decode()


def test_the_api_rotation_keeps_the_old_link_for_the_grace_period(alice_api, alice, client):
    listing = make_listing(alice)
    old = listing.export_token
    response = alice_api.post(f"/api/v1/listings/{listing.pk}/regenerate-export-url/")
    assert response.status_code == 200
    assert old not in response.json()["export_url"]
    assert client.get(f"/calendars/{old}.ics").status_code == 200
