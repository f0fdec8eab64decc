"""API filters offer only the caller's own objects and refuse unknown or malformed values
with a 400 and the reason."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def make_alarm(api) -> int:
    body = {"label": "x", "time": "07:00", "timezone": "Europe/Berlin", "days": [0]}
    response = api.generic("POST", "/api/v1/alarms/", json.dumps(body), "application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_another_owners_alarm_id_answers_like_an_unknown_one(alice_api, bob_api):
    bobs = make_alarm(bob_api)
    mine = make_alarm(alice_api)
    others = alice_api.get(f"/api/v1/briefings/?alarm={bobs}")
    unknown = alice_api.get("/api/v1/briefings/?alarm=999999")
    assert others.status_code == unknown.status_code == 400
    assert others.json()["alarm"] == unknown.json()["alarm"]
    assert alice_api.get(f"/api/v1/briefings/?alarm={mine}").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/briefings/?start=notadate",
        "/api/v1/events/?start=notadate",
        "/api/v1/listings/?owner=2",
        "/api/v1/watches/?sku=ABC",
        "/api/v1/sync/attempts/?since_when=yesterday",
    ],
)
def test_an_unknown_filter_is_a_400_naming_the_filters_that_exist(alice_api, url):
    response = alice_api.get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert "Unknown filter" in response.json()[name][0]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/events/?start_after=notadate", "start_after"),
        ("/api/v1/events/?listing=abc", "listing"),
        ("/api/v1/events/?status=nope", "status"),
        ("/api/v1/sync/attempts/?since=notadate", "since"),
        ("/api/v1/briefings/?alarm=abc", "alarm"),
        ("/api/v1/briefings/?status=nope", "status"),
        ("/api/v1/conflicts/?state=maybe", "state"),
        ("/api/v1/watches/?direction=sideways", "direction"),
        ("/api/v1/products/?tier=boiling", "tier"),
        ("/api/v1/alarms/?active=perhaps", "active"),
    ],
)
def test_a_malformed_value_is_a_400_with_the_reason(alice_api, url, field):
    response = alice_api.get(url)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_pagination_and_search_are_not_filters(alice_api):
    assert alice_api.get("/api/v1/products/?search=x&page=1").status_code == 200
    assert alice_api.get("/api/v1/alarms/?page=1&format=json").status_code == 200


def test_detail_views_ignore_the_list_filters(alice_api):
    alarm = make_alarm(alice_api)
    assert alice_api.get(f"/api/v1/alarms/{alarm}/?format=json").status_code == 200
