from datetime import timedelta

import pytest
from django.urls import include, path
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from syncing.models import Probe, SyncAttempt
from syncing.monitoring.rollups import rollup_attempts
from tests.syncing.factories import make_probes

urlpatterns = [path("", include("syncing.monitoring.urls")), path("", include("config.urls"))]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def samples(text):
    """Every sample by (name, labels), parsed by prometheus_client; fails on a duplicate
    series (Prometheus would keep only one of them)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in found, f"duplicate series {key}: {found[key]} and {sample.value}"
            found[key] = sample.value
    return found


def labels(**kw):
    return tuple(sorted(kw.items()))


def seed():
    now = timezone.now()
    probes = make_probes(4, tier="5m")
    Probe.objects.filter(pk__in=[p.pk for p in probes[:3]]).update(last_success_at=now)
    Probe.objects.filter(pk=probes[3].pk).update(last_success_at=now - timedelta(hours=1))
    SyncAttempt.objects.bulk_create(
        [
            SyncAttempt(
                kind="syncing.probe",
                item_id=1,
                tier="5m",
                started_at=now,
                duration_ms=100,
                outcome="ok",
                bytes=10,
            )
            for _ in range(9)
        ]
        + [
            SyncAttempt(
                kind="syncing.probe",
                item_id=2,
                tier="5m",
                started_at=now,
                duration_ms=2000,
                outcome="failed",
                reason="timeout",
            )
        ]
    )
    rollup_attempts()


def test_metrics_parse_with_the_prometheus_parser(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    seed()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    probe5 = {"kind": "syncing.probe", "tier": "5m"}
    assert found[("syncbeat_on_time_ratio", labels(**probe5))] == 0.75
    assert 3500 < found[("syncbeat_stalest_age_seconds", labels(**probe5))] < 3700
    assert found[("syncbeat_items", labels(**probe5, state="late"))] == 1
    assert found[("syncbeat_items", labels(**probe5, state="on_time"))] == 3
    assert found[("syncbeat_attempts_last_hour", labels(**probe5, outcome="ok", reason=""))] == 9
    assert (
        found[("syncbeat_attempts_last_hour", labels(**probe5, outcome="failed", reason="timeout"))]
        == 1
    )
    p50 = found[("syncbeat_attempt_duration_seconds", labels(**probe5, quantile="0.5"))]
    assert 0.08 < p50 < 0.13
    p99 = found[("syncbeat_attempt_duration_seconds", labels(**probe5, quantile="0.99"))]
    assert 1.5 < p99 <= 2.0
    assert found[("syncbeat_bytes_last_hour", labels(**probe5))] == 90
    assert ("syncbeat_webhook_deliveries_pending", ()) in found
    assert any(name == "syncbeat_queue_depth" for name, _ in found)


def test_a_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200
    assert list(text_string_to_metric_families(ok.content.decode()))


def test_no_token_configured_and_outside_the_networks_is_refused(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_one_sample_per_series_when_the_window_spans_two_hours(client, settings):
    """Attempts of the same labels in the previous and the current clock hour: one series
    each, holding the sum (it was written twice, once per hourly rollup)."""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    now = timezone.now()
    previous_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind="syncing.probe",
            item_id=i,
            tier="5m",
            started_at=at,
            duration_ms=50,
            outcome=outcome,
            reason=reason,
            retries=1,
        )
        for i, at in enumerate([previous_hour] * 3 + [now] * 2)
        for outcome, reason in [("ok", ""), ("failed", "timeout")]
    )
    rollup_attempts(since=previous_hour)
    text = client.get("/metrics").content.decode()
    found = samples(text)  # asserts no duplicate (name, labels)
    probe5 = {"kind": "syncing.probe", "tier": "5m"}
    ok = ("syncbeat_attempts_last_hour", labels(**probe5, outcome="ok", reason=""))
    failed = ("syncbeat_attempts_last_hour", labels(**probe5, outcome="failed", reason="timeout"))
    assert found[ok] == 5
    assert found[failed] == 5
    assert found[("syncbeat_retries_last_hour", labels(**probe5))] == 10
