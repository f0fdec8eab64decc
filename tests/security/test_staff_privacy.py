"""Owners never see a staff member's address: pausing from the admin says "Paused by
staff." to the owner, and the admin log keeps who did it."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry

pytestmark = pytest.mark.django_db


def test_a_feed_paused_by_staff_does_not_show_their_address(alice, alice_api, staff, client):
    listing = alice_api.generic(
        "POST", "/api/v1/listings/", json.dumps({"name": "Flat"}), "application/json"
    ).json()
    body = {"listing": listing["id"], "url": "https://channel.example/a.ics"}
    feed = alice_api.generic("POST", "/api/v1/feeds/", json.dumps(body), "application/json")
    assert feed.status_code == 201, feed.content
    feed_id = feed.json()["id"]

    client.force_login(staff)
    response = client.post(
        "/admin/calendars/feed/",
        {"action": "pause_action", "_selected_action": [feed_id]},
    )
    assert response.status_code == 302
    assert LogEntry.objects.filter(user=staff, object_id=str(feed_id)).exists()

    seen = alice_api.get(f"/api/v1/feeds/{feed_id}/")
    assert seen.json()["paused"] is True
    assert seen.json()["pause_reason"] == "Paused by staff."
    client.force_login(alice)
    for page in (f"/api/v1/feeds/{feed_id}/", "/api/v1/feeds/", "/calendars/", "/dashboard/"):
        text = (alice_api if page.startswith("/api") else client).get(page).content.decode()
        assert "staff@example.com" not in text, page
