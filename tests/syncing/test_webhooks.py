import json
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import include, path
from django.utils import timezone

from syncing.webhooks import delivery as deliveries
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint
from syncing.webhooks.services import emit, endpoint_create
from syncing.webhooks.signing import sign, verify
from tests.support.http import Reply, local_server

urlpatterns = [
    path("api/v1/", include("syncing.webhooks.api_urls")),
    path("", include("config.urls")),
]
pytestmark = pytest.mark.urls(__name__)


def make_due(delivery_pk):
    WebhookDelivery.objects.filter(pk=delivery_pk).update(next_attempt_at=timezone.now())


def test_signature_round_trip_and_replay_window():
    body = b'{"a":1}'
    header = sign("whsec_x", body, timestamp=1_700_000_000)
    assert verify("whsec_x", header, body, now=1_700_000_100)
    assert not verify("whsec_y", header, body, now=1_700_000_100)
    assert not verify("whsec_x", header, b'{"a":2}', now=1_700_000_100)
    assert not verify("whsec_x", header, body, now=1_700_000_000 + 301)  # too old: a replay
    assert not verify("whsec_x", "garbage", body)


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_endpoints_secret(alice, allow_private_urls):
    with local_server({"/hook": Reply(200, b"thanks")}) as server:
        endpoint = endpoint_create(alice, url=server.url + "/hook", events=["booking.added"])
        created = emit(alice, "booking.added", {"listing": 7, "uid": "abc"})
        assert emit(alice, "price.crossed", {"sku": "X"}) == []  # not subscribed

        run = deliveries.deliver_due()

        assert (run.claimed, run.delivered) == (1, 1)
        seen = server.requests[0]
        assert seen.method == "POST"
        assert verify(endpoint.secret, seen.headers["x-syncbeat-signature"], seen.body)
        body = json.loads(seen.body)
        assert body["type"] == "booking.added" and body["data"] == {"listing": 7, "uid": "abc"}
        assert seen.headers["x-syncbeat-event"] == "booking.added"
        sent = WebhookDelivery.objects.get(pk=created[0].pk)
        assert (sent.status, sent.attempts, sent.response_status) == ("delivered", 1, 200)
        assert sent.response_body == "thanks"
    assert deliveries.deliver_due().claimed == 0  # nothing twice


@pytest.mark.django_db
def test_500s_are_retried_with_exponential_backoff_then_delivered(alice, allow_private_urls):
    replies = iter([Reply(500, b"oops"), Reply(503, b"busy"), Reply(200, b"ok")])
    with local_server({"/hook": lambda seen: next(replies)}) as server:
        endpoint_create(alice, url=server.url + "/hook", events=["conflict.opened"])
        (d,) = emit(alice, "conflict.opened", {"listing": 1})

        before = timezone.now()
        assert deliveries.deliver_due().delivered == 0
        d.refresh_from_db()
        assert (d.status, d.attempts, d.response_status) == ("pending", 1, 500)
        assert "http_5xx" in d.error
        first_wait = d.next_attempt_at - before
        assert timedelta(0) <= first_wait <= timedelta(seconds=31)  # full jitter up to 30 s

        make_due(d.pk)
        deliveries.deliver_due()
        d.refresh_from_db()
        assert d.attempts == 2
        assert timedelta(0) <= d.next_attempt_at - d.last_attempt_at <= timedelta(seconds=61)

        make_due(d.pk)
        assert deliveries.deliver_due().delivered == 1
        d.refresh_from_db()
        assert (d.status, d.attempts) == ("delivered", 3)
        assert len(server.requests) == 3
    assert d.endpoint.failing_since is None or WebhookEndpoint.objects.get().failing_since is None


def test_backoff_doubles_and_caps_with_full_jitter():
    for n, ceiling in ((1, 30), (2, 60), (3, 120), (4, 240), (30, 6 * 3600)):
        waits = [deliveries.backoff(n).total_seconds() for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.7 and min(waits) < ceiling * 0.3  # spread, not fixed


@pytest.mark.django_db
def test_a_delivery_gives_up_after_a_day(alice, allow_private_urls):
    with local_server({"/hook": Reply(500)}) as server:
        endpoint_create(alice, url=server.url + "/hook", events=["item.paused"])
        (d,) = emit(alice, "item.paused", {"kind": "calendars.feed", "id": 3})
        # A day and a second old: any retry (the wait has full jitter, so it may be ~0 s)
        # would land past the day's window.
        WebhookDelivery.objects.filter(pk=d.pk).update(
            created_at=timezone.now() - timedelta(hours=24, seconds=1)
        )
        deliveries.deliver_due()
    d.refresh_from_db()
    assert d.status == "failed" and d.next_attempt_at is None


@pytest.mark.django_db
def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_told(alice, allow_private_urls):
    with local_server({"/hook": Reply(500)}) as server:
        endpoint = endpoint_create(alice, url=server.url + "/hook", events=["booking.added"])
        emit(alice, "booking.added", {"n": 1})
        deliveries.deliver_due()
        endpoint.refresh_from_db()
        assert endpoint.enabled and endpoint.failing_since is not None
        assert mail.outbox == []

        # A day of failures later (simulated by moving the start of the failures back):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=timezone.now() - timedelta(hours=25)
        )
        (d2,) = emit(alice, "booking.added", {"n": 2})
        deliveries.deliver_due()

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "Disabled automatically" in endpoint.disabled_reason
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    assert emit(alice, "booking.added", {"n": 3}) == []  # disabled endpoints get nothing


@pytest.mark.django_db
def test_private_addresses_are_refused_without_retry(alice):
    endpoint_create(alice, url="http://127.0.0.1:9/hook", events=["booking.added"])
    (d,) = emit(alice, "booking.added", {})
    deliveries.deliver_due()
    d.refresh_from_db()
    assert d.status == "failed" and "blocked_address" in d.error


@pytest.mark.django_db
def test_api_create_shows_the_secret_once_and_lists_deliveries(
    alice, alice_api, allow_private_urls
):
    answer = alice_api.post(
        "/api/v1/webhooks/",
        {"url": "https://example.com/hook", "events": ["booking.added", "conflict.opened"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    secret = answer.json()["secret"]
    assert secret.startswith("whsec_")
    pk = answer.json()["id"]
    assert "secret" not in alice_api.get(f"/api/v1/webhooks/{pk}/").json()
    assert WebhookEndpoint.objects.get(pk=pk).secret == secret

    bad = alice_api.post("/api/v1/webhooks/", {"url": "ftp://x", "events": ["nope"]}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"url", "events"}

    emit(alice, "booking.added", {"uid": "u1"})
    listed = alice_api.get(f"/api/v1/webhooks/{pk}/deliveries/").json()
    assert listed["count"] == 1 and listed["results"][0]["event_type"] == "booking.added"


@pytest.mark.django_db
def test_replay_sends_the_same_event_again(alice, alice_api, allow_private_urls):
    with local_server({"/hook": Reply(200)}) as server:
        endpoint = endpoint_create(alice, url=server.url + "/hook", events=["briefing.ready"])
        (d,) = emit(alice, "briefing.ready", {"alarm": 5})
        deliveries.deliver_due()

        answer = alice_api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{d.pk}/replay/")
        assert answer.status_code == 202
        assert answer.json()["replay_of"] == d.pk
        deliveries.deliver_due()

        first, second = (json.loads(r.body) for r in server.requests)
        assert first["id"] == second["id"]  # same event id: receivers can deduplicate
        assert first["delivery"] != second["delivery"]
        for seen in server.requests:
            assert verify(endpoint.secret, seen.headers["x-syncbeat-signature"], seen.body)


@pytest.mark.django_db
def test_claiming_is_exclusive(alice):
    endpoint_create(alice, url="https://example.com/hook", events=["booking.added"])
    emit(alice, "booking.added", {})
    assert len(deliveries.claim_due()) == 1
    assert deliveries.claim_due() == []


def test_unknown_event_type_is_a_programming_error():
    with pytest.raises(ValueError):
        emit(None, "booking.exploded", {})


@pytest.mark.django_db
def test_deliveries_claimed_with_the_one_that_disables_their_endpoint_stay_failed(
    alice, allow_private_urls
):
    """Two deliveries due in one run to an endpoint failing for a day: the first failure
    disables it and fails every pending delivery; the second is then neither sent nor put
    back to pending (it was, when its retry's jitter made the first test's retry due: a
    delivery left pending at a disabled endpoint)."""
    with local_server({"/hook": Reply(500)}) as server:
        endpoint = endpoint_create(alice, url=server.url + "/hook", events=["booking.added"])
        (d1,) = emit(alice, "booking.added", {"n": 1})
        (d2,) = emit(alice, "booking.added", {"n": 2})
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=timezone.now() - timedelta(hours=25)
        )
        make_due(d1.pk)
        make_due(d2.pk)
        run = deliveries.deliver_due()
        sent = len(server.requests)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert (run.claimed, run.delivered, run.failed) == (2, 0, 2)
    assert sent == 1
    rows = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert rows == {d1.pk: "failed", d2.pk: "failed"}
    assert WebhookDelivery.objects.filter(next_attempt_at__isnull=False).count() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_delivery_failed_by_another_runs_disabling_is_not_put_back_to_pending(
    alice, allow_private_urls
):
    """Claimed and loaded, then its endpoint disabled elsewhere (another worker's failure):
    this send's failure keeps the failed status the disabling gave it, with no retry."""
    with local_server({"/hook": Reply(500)}) as server:
        endpoint = endpoint_create(alice, url=server.url + "/hook", events=["booking.added"])
        (d,) = emit(alice, "booking.added", {"n": 1})
        make_due(d.pk)
        assert deliveries.claim_due() == [d.pk]
        loaded = WebhookDelivery.objects.select_related("endpoint").get(pk=d.pk)
        assert deliveries.disable_endpoint(WebhookEndpoint.objects.get(pk=endpoint.pk))
        assert deliveries.deliver(loaded) is False
    d.refresh_from_db()
    assert (d.status, d.next_attempt_at, d.error) == ("failed", None, "endpoint disabled")
