"""/healthz: up/down only without credentials, details for staff or the metrics token, and
an answer within about 2 s when a service accepts connections but never answers."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@contextmanager
def tarpit():
    """A port on 127.0.0.1 that completes the TCP handshake and then never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_without_credentials_only_up_or_down(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "checks": {"database": "up", "broker": "up", "cache": "up"},
    }


def test_staff_see_latency_and_detail(client, staff):
    client.force_login(staff)
    checks = client.get("/healthz").json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["database"]["detail"] in ("postgresql", "sqlite")
    assert isinstance(checks["cache"]["ms"], float)


def test_an_owner_is_not_staff(client, alice):
    client.force_login(alice)
    assert client.get("/healthz").json()["checks"]["database"] == "up"


def test_the_metrics_token_shows_details(client, settings):
    settings.METRICS_TOKEN = "m" * 40
    detailed = client.get("/healthz", HTTP_AUTHORIZATION="Bearer " + "m" * 40).json()
    assert "ms" in detailed["checks"]["broker"]
    wrong = client.get("/healthz", HTTP_AUTHORIZATION="Bearer nope").json()
    assert wrong["checks"]["broker"] == "up"


@pytest.mark.postgres  # a database server that never answers: SQLite has none
def test_services_that_never_answer_are_down_within_about_two_seconds(
    client, settings, monkeypatch
):
    from config.celery_app import app

    with tarpit() as port:
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(port))
        # Celery reads CELERY_BROKER_URL from the environment before its own settings.
        monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")
        monkeypatch.setitem(app.conf, "broker_write_url", None)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
            }
        }
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {
        "ok": False,
        "checks": {"database": "down", "broker": "down", "cache": "down"},
    }
    assert str(port) not in response.content.decode()
    assert elapsed < 3.5, elapsed
