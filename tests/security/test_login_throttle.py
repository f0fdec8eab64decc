"""Failed logins are throttled per account and per client address, on the login page and on
the API's token exchange, with the same counters shared by every web process (Redis)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from rest_framework.test import APIClient

PASSWORD = "correct horse battery staple"


def basic(email: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


def api_login(email: str, password: str, address: str = "203.0.113.5"):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=basic(email, password))
    return client.post("/api/v1/auth/login/")


def page_login(client, email: str, password: str, address: str = "203.0.113.5"):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=address)


pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def test_api_login_locks_the_account_after_five_failures(alice, real_limits, redis_cache):
    for _ in range(5):
        assert api_login("alice@example.com", "wrong").status_code == 401
    locked = api_login("alice@example.com", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert 800 <= int(locked["Retry-After"]) <= 900
    assert locked.json()["detail"] == "Too many attempts, try again in 15 minutes."
    # From another address too: the lock is the account's.
    assert api_login("alice@example.com", PASSWORD, "198.51.100.7").status_code == 429


def test_login_page_locks_the_account_with_a_clear_message(alice, client, real_limits, redis_cache):
    for _ in range(5):
        response = page_login(client, "ALICE@example.com ", "wrong")
        assert response.status_code == 200
        assert b"did not match" in response.content
    response = page_login(client, "alice@example.com", PASSWORD)
    assert response.status_code == 429
    assert b"Too many attempts, try again in 15 minutes." in response.content
    assert "_auth_user_id" not in client.session


def test_page_and_api_share_the_account_counter(alice, client, real_limits, redis_cache):
    for _ in range(3):
        page_login(client, "alice@example.com", "wrong")
    for _ in range(2):
        api_login("alice@example.com", "wrong")
    assert api_login("alice@example.com", PASSWORD).status_code == 429
    assert page_login(client, "alice@example.com", PASSWORD).status_code == 429


def test_an_address_guessing_many_accounts_is_locked(alice, real_limits, redis_cache):
    for n in range(20):
        assert api_login(f"nobody{n}@example.com", "wrong").status_code == 401
    assert api_login("alice@example.com", PASSWORD).status_code == 429
    # Alice from her own address still gets in: the lock is that address's.
    assert api_login("alice@example.com", PASSWORD, "198.51.100.7").status_code == 200


def test_a_success_below_the_limit_resets_the_account(alice, real_limits, redis_cache):
    for _ in range(4):
        api_login("alice@example.com", "wrong")
    assert api_login("alice@example.com", PASSWORD).status_code == 200
    for _ in range(4):
        api_login("alice@example.com", "wrong", "198.51.100.9")
    assert api_login("alice@example.com", PASSWORD).status_code == 200


def test_behind_a_trusted_proxy_each_client_has_its_own_address_counter(
    alice, settings, real_limits, redis_cache
):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for n in range(20):
        client = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
        client.credentials(HTTP_AUTHORIZATION=basic(f"x{n}@example.com", "wrong"))
        client.post("/api/v1/auth/login/")
    proxied = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    proxied.credentials(HTTP_AUTHORIZATION=basic("alice@example.com", PASSWORD))
    assert proxied.post("/api/v1/auth/login/").status_code == 200
    spoofed = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.66")
    spoofed.credentials(HTTP_AUTHORIZATION=basic("alice@example.com", PASSWORD))
    assert spoofed.post("/api/v1/auth/login/").status_code == 429


def test_the_lock_is_seen_by_another_process(alice, real_limits, redis_cache):
    for _ in range(5):
        api_login("alice@example.com", "wrong")
    probe = (
        "import django, json; django.setup(); from django.conf import settings;"
        f"settings.CACHES['default']['KEY_PREFIX'] = {redis_cache['KEY_PREFIX']!r};"
        "from syncing.throttling import login_wait;"
        "print(json.dumps(login_wait(None, 'alice@example.com')))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": redis_cache["LOCATION"],
        "SECRET_KEY": "x" * 40,
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert 800 <= json.loads(out.stdout.strip().splitlines()[-1]) <= 900


def test_nul_in_basic_credentials_is_a_401(alice, real_limits):
    assert api_login("alice@example.com\x00", PASSWORD).status_code == 401
    assert api_login("alice@example.com", PASSWORD + "\x00").status_code == 401


def test_the_admin_login_shares_the_lock(staff, client, real_limits, redis_cache):
    for _ in range(5):
        api_login("staff@example.com", "wrong")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "staff@example.com", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.20",
    )
    assert response.status_code == 200  # the form again: the backend refused
    assert "_auth_user_id" not in client.session
