"""The API is throttled per owner by plan and, more strictly, per address without
credentials: 429 with Retry-After once the minute's allowance is spent."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import api_client_for

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def spend(client, n: int, url: str = "/api/v1/sync/tiers/") -> list[int]:
    return [client.get(url).status_code for _ in range(n)]


def test_a_free_owner_gets_60_requests_a_minute_then_429(charlie, real_limits, redis_cache):
    api = api_client_for(charlie)
    assert set(spend(api, 60)) == {200}
    refused = api.get("/api/v1/sync/tiers/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()


def test_the_allowance_follows_the_plan_and_is_per_owner(charlie, alice, real_limits, redis_cache):
    spend(api_client_for(charlie), 61)
    pro = api_client_for(alice)  # pro: 300 a minute, her own counter
    assert set(spend(pro, 100)) == {200}
    assert set(spend(pro, 200)) == {200}
    assert pro.get("/api/v1/sync/tiers/").status_code == 429


def test_a_new_token_does_not_reset_the_owners_allowance(charlie, real_limits, redis_cache):
    spend(api_client_for(charlie), 60)
    assert api_client_for(charlie).get("/api/v1/sync/tiers/").status_code == 429


def test_anonymous_requests_are_throttled_per_address_even_when_refused(real_limits, redis_cache):
    anon = APIClient(REMOTE_ADDR="203.0.113.9")
    assert set(spend(anon, 30)) == {401}
    refused = anon.get("/api/v1/sync/tiers/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert anon.get("/api/schema/").status_code == 429
    assert APIClient(REMOTE_ADDR="203.0.113.10").get("/api/schema/").status_code == 200


def test_an_owner_without_an_account_row_gets_the_free_rate(db, real_limits, redis_cache):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("dora@example.com", "dora@example.com", "pw")
    api = api_client_for(user)
    assert set(spend(api, 60)) == {200}
    assert api.get("/api/v1/sync/tiers/").status_code == 429


def test_the_suite_rates_are_high_and_the_real_ones_are_not(settings):
    # The suite runs with high rates; these tests put back the configured defaults.
    assert settings.REAL_API_THROTTLE_RATES["free"] == "60/minute"
    assert settings.REAL_API_THROTTLE_RATES["anon"] == "30/minute"


def test_a_bad_rate_stops_start_up_naming_the_variable(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "API_THROTTLE_FREE": "lots",
        "SYNCBEAT_VAR_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "API_THROTTLE_FREE: expected N/second, minute, hour or day, got 'lots'" in out.stderr
