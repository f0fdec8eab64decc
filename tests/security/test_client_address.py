"""The client's address is read through TRUSTED_PROXIES: X-Forwarded-For only from them;
/metrics never trusts a forwarded request from a peer it was not told about."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from syncing.clientip import client_ip

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_metrics(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1"]
    settings.TRUSTED_PROXIES = []
    return settings


def test_a_local_caller_without_a_proxy_may_read_metrics(client, loopback_metrics):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_a_proxy_on_the_same_host_does_not_make_every_client_local(client, loopback_metrics):
    # nginx on the same host: the peer is 127.0.0.1, the client is in X-Forwarded-For.
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert forwarded.status_code == 401
    assert (
        client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="1.2.3.4").status_code == 401
    )


def test_behind_a_trusted_proxy_the_forwarded_client_decides(client, loopback_metrics):
    loopback_metrics.TRUSTED_PROXIES = ["127.0.0.1"]
    outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert outside.status_code == 401
    # A client cannot claim to be local by sending the header itself: the proxy appends.
    spoof = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.50"
    )
    assert spoof.status_code == 401
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert local.status_code == 200


def test_an_untrusted_peer_cannot_choose_its_address(client, loopback_metrics):
    loopback_metrics.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.7", "127.0.0.1", "203.0.113.7"),  # untrusted peer: header ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two trusted hops
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the left is the client's say
        ("10.0.0.2", "garbage, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "not-an-ip", "10.0.0.2"),
        ("10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_walks_the_header_from_the_right(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_a_bad_trusted_proxy_stops_start_up_naming_the_variable(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "TRUSTED_PROXIES": "10.0.0.0/8,nginx",
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
    assert "TRUSTED_PROXIES: not an address or network: 'nginx'" in out.stderr
