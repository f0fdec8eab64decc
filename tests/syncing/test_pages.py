import pytest


@pytest.mark.django_db
def test_pages_need_a_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_an_owner_logs_in_with_email_and_sees_the_dashboard(client, alice):
    response = client.post(
        "/login/", {"username": "Alice@Example.com", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert b"Sync health" in page.content
    assert b"alice@example.com" in page.content


@pytest.mark.django_db
def test_a_wrong_password_is_refused(client, alice):
    response = client.post("/login/", {"username": "alice@example.com", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


@pytest.mark.django_db
def test_an_owner_creates_and_revokes_an_api_token(client, alice):
    client.force_login(alice)
    page = client.post("/account/tokens/")
    key = page.context["new_key"]
    assert key.startswith("sb_")
    from knox.models import AuthToken

    token = AuthToken.objects.get(user=alice)
    client.post("/account/tokens/", {"revoke": token.pk})
    assert not AuthToken.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_healthz_is_ok_when_database_broker_and_cache_answer(client):
    data = client.get("/healthz").json()
    assert data["ok"] is True, data
    assert data["checks"] == {"database": "up", "broker": "up", "cache": "up"}


@pytest.mark.django_db
def test_the_dashboard_counts_the_owners_items_by_health(client, alice, bob):
    from django.utils import timezone

    from tests.syncing.factories import make_probes

    ok, failing, paused = make_probes(3, owner=alice, last_success_at=timezone.now())
    make_probes(1, owner=alice)  # never synced
    make_probes(2, owner=bob, paused=True)
    type(ok).objects.filter(pk=failing.pk).update(consecutive_failures=2)
    type(ok).objects.filter(pk=paused.pk).update(paused=True)
    client.force_login(alice)
    (row,) = client.get("/dashboard/").context["health"]
    assert (row["total"], row["failing"], row["paused"], row["never"]) == (4, 1, 1, 1)
