from datetime import timedelta

import pytest
from django.urls import include, path
from django.utils import timezone

from syncing.models import Probe, SyncAttempt
from syncing.monitoring.rollups import rollup_attempts
from tests.syncing.factories import make_probes

urlpatterns = [path("", include("syncing.monitoring.urls")), path("", include("config.urls"))]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]

PASSWORD = "correct horse battery staple"


def seed_attempts(owner=None):
    now = timezone.now()
    probe = make_probes(1, tier="5m", owner=owner)[0]
    rows = []
    for hours in range(0, 24 * 10, 3):
        started = now - timedelta(hours=hours)
        rows.append(
            SyncAttempt(
                kind="syncing.probe",
                item_id=probe.pk,
                tier="5m",
                started_at=started,
                duration_ms=100 + hours,
                outcome="ok",
            )
        )
        rows.append(
            SyncAttempt(
                kind="syncing.probe",
                item_id=probe.pk,
                tier="5m",
                started_at=started,
                duration_ms=900,
                outcome="failed",
                reason="http_404",
            )
        )
    SyncAttempt.objects.bulk_create(rows)
    rollup_attempts()
    return probe


def test_staff_sees_the_dashboard_with_charts_and_links(client, staff):
    probe = seed_attempts()
    client.login(username=staff.username, password=PASSWORD)
    response = client.get("/admin/syncing/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="chart"') == 4
    assert 'class="point"' in html and 'class="bar"' in html
    assert "Freshness" in html and "syncing.probe" in html
    assert f"/admin/syncing/probe/{probe.pk}/change/" in html
    assert client.get("/admin/syncing/dashboard/?kind=syncing.probe").status_code == 200


def test_owners_cannot_open_the_staff_dashboard(client, alice):
    client.login(username=alice.username, password=PASSWORD)
    response = client.get("/admin/syncing/dashboard/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_status_page_says_what_fails_since_when_and_why(client, alice, bob):
    probe = seed_attempts(owner=alice)
    Probe.objects.filter(pk=probe.pk).update(
        consecutive_failures=4,
        last_success_at=timezone.now() - timedelta(hours=3, minutes=30),
        last_error="http://x/feed.ics: not found (HTTP 404)",
        name="Beach house",
    )
    cabin = make_probes(
        1, owner=alice, paused=True, pause_reason="Paused after 10 failures in a row."
    )
    Probe.objects.filter(pk=cabin[0].pk).update(name="Old cabin")
    bobs = make_probes(1, owner=bob, consecutive_failures=2)
    Probe.objects.filter(pk=bobs[0].pk).update(name="Bob's probe")
    client.login(username=alice.username, password=PASSWORD)
    html = client.get("/status/").content.decode()
    assert "“Beach house” failing for 3 hours" in html
    assert "because the source answers 404 (not found) (4 failures in a row)" in html
    assert "“Old cabin” is paused: Paused after 10 failures in a row." in html
    assert "Bob" not in html
    # Resuming is its own button on the status page; only for a paused item of the owner.
    assert html.count('name="item"') == 1
    (bobs_paused,) = make_probes(1, owner=bob, paused=True)
    client.post("/status/resume/", {"kind": "syncing.probe", "item": bobs_paused.pk})
    assert Probe.objects.get(pk=bobs_paused.pk).paused  # Bob's: not Alice's to resume
    client.post("/status/resume/", {"kind": "syncing.probe", "item": cabin[0].pk})
    resumed = Probe.objects.get(pk=cabin[0].pk)
    assert not resumed.paused and resumed.pause_reason == ""
    assert "“Old cabin” resumed" in client.get("/status/").content.decode()


def test_the_status_page_needs_a_login(client):
    assert client.get("/status/").status_code == 302
