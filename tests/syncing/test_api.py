import pytest

from syncing.models import SyncAttempt
from tests.syncing.factories import make_probes


def attempt_for(owner, item_id, **kw):
    from django.utils import timezone

    return SyncAttempt.objects.create(
        kind="syncing.probe",
        item_id=item_id,
        owner=owner,
        started_at=timezone.now(),
        outcome="ok",
        **kw,
    )


@pytest.mark.django_db
def test_the_api_needs_a_token(anon_api):
    assert anon_api.get("/api/v1/sync/attempts/").status_code == 401
    assert anon_api.get("/api/v1/sync/tiers/").status_code == 401


@pytest.mark.django_db
def test_an_owner_sees_only_their_own_attempts(alice, bob, alice_api, bob_api):
    mine = attempt_for(alice, make_probes(1, owner=alice)[0].pk)
    theirs = attempt_for(bob, make_probes(1, owner=bob)[0].pk)

    listed = alice_api.get("/api/v1/sync/attempts/").json()
    assert [a["id"] for a in listed["results"]] == [mine.pk]
    assert alice_api.get(f"/api/v1/sync/attempts/{theirs.pk}/").status_code == 404
    assert bob_api.get(f"/api/v1/sync/attempts/{mine.pk}/").status_code == 404


@pytest.mark.django_db
def test_attempts_filter_by_outcome_and_are_read_only(alice, alice_api):
    attempt_for(alice, 1)
    failed = attempt_for(alice, 2)
    SyncAttempt.objects.filter(pk=failed.pk).update(outcome="failed", reason="http_404")
    data = alice_api.get("/api/v1/sync/attempts/?outcome=failed").json()
    assert [a["reason"] for a in data["results"]] == ["http_404"]
    assert alice_api.delete(f"/api/v1/sync/attempts/{failed.pk}/").status_code == 405


@pytest.mark.django_db
def test_tiers_are_listed_with_their_interval(alice_api):
    data = alice_api.get("/api/v1/sync/tiers/?kind=syncing.probe").json()
    by_name = {t["name"]: t for t in data["results"]}
    assert by_name["5m"]["interval_seconds"] == 300


@pytest.mark.django_db
def test_api_login_exchanges_a_password_for_a_token(alice, anon_api):
    anon_api.credentials(
        HTTP_AUTHORIZATION="Basic "
        + __import__("base64").b64encode(b"alice@example.com:correct horse battery staple").decode()
    )
    response = anon_api.post("/api/v1/auth/login/")
    assert response.status_code == 200
    token = response.json()["token"]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/sync/tiers/").status_code == 200
    client.post("/api/v1/auth/logout/")
    assert client.get("/api/v1/sync/tiers/").status_code == 401


@pytest.mark.django_db
def test_the_openapi_schema_is_served(alice_api, client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/sync/attempts/" in response.content
    assert client.get("/api/docs/").status_code == 200
