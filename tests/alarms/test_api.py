"""The alarms API: field contract, validation, the next briefing, IDOR including audio."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from rest_framework.test import APIClient

from alarms.models import Briefing
from alarms.services import audio_links
from syncing.kinds import get_kind
from syncing.services.claims import claim_one
from syncing.services.runs import run_claimed
from tests.alarms.conftest import make_alarm, utc
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db
RING = utc(2025, 6, 2, 5, 0)  # Monday 07:00 Berlin
ALARM_FIELDS = {
    "id",
    "label",
    "time",
    "timezone",
    "date",
    "days",
    "lead_minutes",
    "voice",
    "active",
    "next_ring_at",
}


def generate(alarm):
    claim = claim_one(get_kind("alarms.alarm"), alarm.pk, force=True)
    run_claimed("alarms.alarm", claim.token, claim.pks)
    return Briefing.objects.get(alarm=alarm, ring_at=alarm.next_ring_at)


def test_create_a_repeating_alarm_field_contract(alice_api, clock_at):
    clock_at(RING - timedelta(hours=3))
    response = alice_api.post(
        "/api/v1/alarms/",
        {
            "label": "Work",
            "time": "07:00",
            "timezone": "Europe/Berlin",
            "days": [4, 0, 2],
            "voice": "en",
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    body = response.json()
    assert set(body) == ALARM_FIELDS
    assert body["time"] == "07:00" and body["date"] is None and body["days"] == [0, 2, 4]
    assert body["lead_minutes"] == 58 and body["active"] is True
    assert body["next_ring_at"] == "2025-06-02T05:00:00Z"


def test_create_a_one_off(alice_api, clock_at):
    clock_at(RING - timedelta(hours=3))
    response = alice_api.post(
        "/api/v1/alarms/",
        {
            "time": "23:30",
            "timezone": "Asia/Kolkata",
            "date": "2025-06-02",
            "lead_minutes": 30,
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["days"] == [] and body["date"] == "2025-06-02" and body["lead_minutes"] == 30
    assert body["next_ring_at"] == "2025-06-02T18:00:00Z"


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a known IANA time zone"),
        ({"time": "25:00"}, "time", "Time has wrong format"),
        ({"time": "7am"}, "time", "Time has wrong format"),
        ({"days": [7]}, "days", "less than or equal to 6"),
        ({"days": [1, 1]}, "days", "once"),
        ({"days": []}, "date", "one-off alarm needs a date"),
        ({"days": [1], "date": "2025-06-03"}, "date", "has no date"),
        ({"days": [], "date": "2025-06-01"}, "date", "already passed"),
        ({"lead_minutes": 0}, "lead_minutes", "greater than or equal to 1"),
    ],
)
def test_validation_errors_are_400_with_a_clear_message(alice_api, clock_at, payload, field, words):
    clock_at(RING - timedelta(hours=3))
    data = {"time": "07:00", "timezone": "Europe/Berlin", "days": [0], **payload}
    response = alice_api.post("/api/v1/alarms/", data, format="json")
    assert response.status_code == 400
    assert words in str(response.json()[field])


def test_the_plan_caps_the_number_of_alarms(charlie, clock_at):
    clock_at(RING - timedelta(hours=3))
    client = api_client_for(charlie)  # free plan: one alarm
    data = {"time": "07:00", "timezone": "UTC", "days": [0]}
    assert client.post("/api/v1/alarms/", data, format="json").status_code == 201
    response = client.post("/api/v1/alarms/", data, format="json")
    assert response.status_code == 400 and "allows 1 alarm" in str(response.json())


def test_update_switches_to_one_off_and_reschedules(alice, alice_api, clock_at):
    clock_at(RING - timedelta(hours=3))
    alarm = make_alarm(alice)
    response = alice_api.patch(f"/api/v1/alarms/{alarm.pk}/", {"date": "2025-06-03"}, format="json")
    assert response.status_code == 200, response.data
    assert (
        response.json()["days"] == [] and response.json()["next_ring_at"] == "2025-06-03T05:00:00Z"
    )


def test_next_before_and_after_generation_and_the_audio_url(alice, alice_api, clock_at):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    body = alice_api.get(f"/api/v1/alarms/{alarm.pk}/next/").json()
    assert body == {
        "ring_at": "2025-06-02T05:00:00Z",
        "status": "pending",
        "audio_url": None,
        "script": "",
    }
    generate(alarm)
    body = alice_api.get(f"/api/v1/alarms/{alarm.pk}/next/").json()
    assert body["status"] == "ready" and body["script"].startswith("Good morning, Alice.")
    assert body["audio_url"].startswith("http://testserver/alarms/audio/")
    audio = APIClient().get(body["audio_url"])  # the signed URL alone is enough
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"
    assert alice_api.get(body["audio_url"]).status_code == 200


def test_briefing_history_is_owner_scoped(alice, bob, alice_api, bob_api, clock_at):
    clock_at(RING - timedelta(minutes=58))
    generate(make_alarm(alice))
    assert alice_api.get("/api/v1/briefings/").json()["count"] == 1
    assert bob_api.get("/api/v1/briefings/").json()["count"] == 0
    briefing = Briefing.objects.get()
    assert bob_api.get(f"/api/v1/briefings/{briefing.pk}/").status_code == 404


def test_bob_cannot_see_touch_or_hear_alices_alarm(alice, bob, bob_api, clock_at, client):
    clock_at(RING - timedelta(minutes=58))
    alarm = make_alarm(alice)
    briefing = generate(alarm)
    url = f"/api/v1/alarms/{alarm.pk}/"
    assert bob_api.get("/api/v1/alarms/").json()["count"] == 0
    assert bob_api.get(url).status_code == 404
    assert bob_api.patch(url, {"label": "mine"}, format="json").status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert bob_api.get(url + "next/").status_code == 404
    # Even holding Alice's signed audio URL, Bob logged in (token or session) gets nothing.
    path = audio_links.audio_path(briefing)
    assert bob_api.get(path).status_code == 404
    client.force_login(bob)
    assert client.get(path).status_code == 404
    # And he cannot make one: the payload is signed with the server's key.
    forged = signing.dumps({"b": briefing.pk, "o": bob.pk}, salt="wrong-salt")
    assert APIClient().get(f"/alarms/audio/{forged}/").status_code == 404


def test_tampered_and_expired_audio_links(alice, clock_at, settings):
    clock_at(RING - timedelta(minutes=58))
    briefing = generate(make_alarm(alice))
    token = audio_links.sign(briefing)
    anon = APIClient()
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert anon.get(f"/alarms/audio/{tampered}/").status_code == 404
    assert anon.get(f"/alarms/audio/{briefing.clip.file.name}/").status_code == 404
    settings.ALARMS_AUDIO_URL_MAX_AGE = -1  # every link is already too old
    assert anon.get(f"/alarms/audio/{token}/").status_code == 403


def test_the_media_path_is_not_served(alice, clock_at, client):
    clock_at(RING - timedelta(minutes=58))
    briefing = generate(make_alarm(alice))
    client.force_login(alice)
    assert client.get(f"/media/{briefing.clip.file.name}").status_code == 404


def test_anonymous_gets_401(anon_api):
    assert anon_api.get("/api/v1/alarms/").status_code == 401
    assert anon_api.get("/api/v1/briefings/").status_code == 401
