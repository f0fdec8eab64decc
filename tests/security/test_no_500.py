"""Inputs that used to end in a 500 (issue 11's bug reports): each is now a 400 or a form
error with the reason, through the real request path."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

ZONES = ["America", "Europe", "x" * 10_000, "../../etc/passwd", "UTC\x00", "Europe/Nowhere"]


def post_json(api, url: str, body) -> object:
    return api.generic("POST", url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("zone", ZONES)
def test_a_listing_with_a_zone_folder_or_a_huge_zone_is_a_400(alice_api, zone):
    response = post_json(alice_api, "/api/v1/listings/", {"name": "Flat", "timezone": zone})
    assert response.status_code == 400, response.content[:200]


@pytest.mark.parametrize("zone", ZONES[:3])
def test_the_listing_form_refuses_a_zone_folder(client, alice, zone):
    client.force_login(alice)
    response = client.post("/calendars/listings/new/", {"name": "Flat", "timezone": zone})
    assert response.status_code == 200  # the form again, with the error
    assert b"not a known" in response.content or b"at most 64 characters" in response.content


@pytest.mark.parametrize("zone", ZONES)
def test_an_alarm_with_a_zone_folder_or_a_huge_zone_is_a_400(alice_api, zone):
    body = {"label": "x", "time": "07:00", "timezone": zone, "days": [0]}
    response = post_json(alice_api, "/api/v1/alarms/", body)
    assert response.status_code == 400, response.content[:200]


@pytest.mark.parametrize("zone", ZONES[:3])
def test_the_alarm_form_refuses_a_zone_folder(client, alice, zone):
    client.force_login(alice)
    form = {"label": "x", "time": "07:00", "timezone": zone, "days": ["0"], "active": "on"}
    response = client.post("/alarms/new/", {**form, "voice": "", "lead_minutes": "58"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("day", "zone"),
    [
        ("9999-12-31", "Etc/GMT+12"),
        ("9999-12-31", "Pacific/Kiritimati"),
        ("0001-01-01", "Pacific/Kiritimati"),
        ("0001-01-01", "Etc/GMT+12"),
        ("9999-12-31", "UTC"),
    ],
)
def test_a_one_off_alarm_at_the_edge_of_time_is_a_400(alice_api, client, alice, day, zone):
    body = {"label": "x", "time": "23:59", "timezone": zone, "date": day, "days": []}
    response = post_json(alice_api, "/api/v1/alarms/", body)
    assert response.status_code == 400, response.content[:300]
    assert "date" in response.json()
    client.force_login(alice)
    form = {"label": "x", "time": "23:59", "timezone": zone, "date": day, "active": "on"}
    page = client.post("/alarms/new/", {**form, "lead_minutes": "58", "voice": ""})
    assert page.status_code == 200  # the form again, with the error
    assert not alice.alarms.exists()


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "0-1", "99999-01", "2026-13", "x"])
def test_the_month_page_survives_any_month(client, alice, month):
    listing = post_json(api_client_for(alice), "/api/v1/listings/", {"name": "Flat"}).json()
    client.force_login(alice)
    response = client.get(f"/calendars/listings/{listing['id']}/month/", {"month": month})
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/calendars/abc%00def.ics",
        "/calendars/%00.ics",
        "/api/v1/products/ABC%00/",
        "/api/v1/products/ABC%00/history/",
        "/api/v1/listings/?name=%00",
        "/api/v1/sync/attempts/?kind=%00",
        "/alarms/audio/abc%00/",
    ],
)
def test_nul_in_a_path_or_query_is_a_400(alice_api, path):
    response = alice_api.get(path)
    assert response.status_code == 400
    assert b"control characters" in response.content


def test_nul_in_a_watch_is_a_400(alice_api):
    for body in ({"product": "ABC\x00"}, {"product": "ABC", "size": "9\x00"}):
        assert post_json(alice_api, "/api/v1/watches/", body).status_code == 400
    form = alice_api.post("/api/v1/watches/", {"product": "ABC\x00"})  # form-encoded
    assert form.status_code == 400


def test_nul_in_a_product_sku_is_a_400(alice_api):
    assert post_json(alice_api, "/api/v1/products/", {"sku": "ABC\x00"}).status_code == 400


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/watches/", {"product": "ABC", "direction": "\ud800"}),
        ("/api/v1/watches/", {"product": "ABC", "region": "\udfff"}),
        ("/api/v1/feeds/", {"listing": 1, "url": "https://x.example/a.ics", "source": "\ud800"}),
        ("/api/v1/alarms/", {"time": "07:00", "timezone": "UTC", "days": [0], "voice": "\ud800"}),
    ],
)
def test_a_lone_surrogate_in_a_choice_field_is_a_400(alice_api, url, body):
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as \ud800
    response = alice_api.generic("POST", url, raw, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


def test_a_lone_surrogate_in_a_query_is_a_400(alice_api):
    assert alice_api.get("/api/v1/watches/?direction=%ED%A0%80").status_code == 400


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deeply_nested_json_is_a_400(alice_api, depth):
    body = "[" * depth + "]" * depth
    response = alice_api.generic("POST", "/api/v1/listings/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_unclosed_deep_json_is_a_400(alice_api):
    response = alice_api.generic(
        "POST", "/api/v1/alarms/", "[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["Flat\r\nX-EVIL: 1", "Flat\nsecond line", "Flat\x07", "Flat\x00"])
def test_a_listing_name_with_control_characters_is_refused(alice_api, client, alice, name):
    response = post_json(alice_api, "/api/v1/listings/", {"name": name})
    assert response.status_code == 400
    client.force_login(alice)
    page = client.post("/calendars/listings/new/", {"name": name, "timezone": "UTC"})
    assert page.status_code in (200, 400)
    from calendars.models import Listing

    assert not Listing.objects.filter(owner=alice).exists()


def test_an_alarm_label_with_a_line_break_is_refused(alice_api):
    body = {"label": "wake\r\nup", "time": "07:00", "timezone": "UTC", "days": [0]}
    assert post_json(alice_api, "/api/v1/alarms/", body).status_code == 400
