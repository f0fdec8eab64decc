"""Webhook endpoints are capped per plan, and deliveries are paced per destination host,
whichever endpoints and owners point there, through the limiter every worker shares."""

from __future__ import annotations

import json
import time

import pytest
from limits.storage import RedisStorage

from syncing.ratelimit import HostLimiter, RateLimitWait, get_limiter, reset_limiter
from syncing.webhooks import delivery as deliveries
from syncing.webhooks.services import emit, endpoint_create
from tests.conftest import api_client_for
from tests.support.http import Reply, local_server

pytestmark = pytest.mark.django_db


def create(api, url: str = "https://hooks.example.com/in"):
    body = {"url": url, "events": ["booking.added"]}
    return api.generic("POST", "/api/v1/webhooks/", json.dumps(body), "application/json")


def test_a_free_owner_gets_two_endpoints(charlie):
    api = api_client_for(charlie)
    assert [create(api).status_code for _ in range(2)] == [201, 201]
    refused = create(api, "https://other.example.com/in")
    assert refused.status_code == 400
    assert "allows 2 webhook endpoints" in refused.json()["non_field_errors"][0]
    endpoint = api.get("/api/v1/webhooks/").json()["results"][0]["id"]
    assert api.delete(f"/api/v1/webhooks/{endpoint}/").status_code == 204
    assert create(api).status_code == 201


def test_a_pro_owner_gets_ten(alice, alice_api):
    assert {create(alice_api).status_code for _ in range(10)} == {201}
    assert create(alice_api).status_code == 400


@pytest.fixture
def shared_limiter(settings, allow_private_urls):
    settings.REDIS_URL = settings.TEST_REDIS_URL
    settings.WEBHOOK_HOST_RATE_LIMIT = "2/second"
    reset_limiter()
    yield get_limiter()
    reset_limiter()


@pytest.mark.redis
def test_deliveries_to_one_host_are_paced_across_endpoints_and_owners(
    alice, bob, shared_limiter, settings
):
    arrivals: list[float] = []

    def hook(seen):
        arrivals.append(time.monotonic())
        return Reply(200, b"ok")

    with local_server({"*": hook}) as server:
        for owner in (alice, bob):
            for n in range(2):
                endpoint_create(owner, url=f"{server.url}/hook/{n}", events=["booking.added"])
            emit(owner, "booking.added", {"listing": 1})
        run = deliveries.deliver_due()
        # Another worker, same Redis: the host's window is already spent.
        other = HostLimiter(RedisStorage(settings.TEST_REDIS_URL, key_prefix="syncbeat:limits"))
        with pytest.raises(RateLimitWait):
            other.acquire("webhook-host:127.0.0.1", "2/second", deadline_at=time.monotonic() + 0.05)
    assert run.delivered == 4
    assert len(arrivals) == 4
    # 2 a second: four requests span at least ~1.5 s (at 10/s per endpoint it was ~0).
    assert arrivals[-1] - arrivals[0] >= 1.2, arrivals
