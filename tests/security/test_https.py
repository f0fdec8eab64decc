"""HTTPS_ONLY=true: one switch for secure cookies, HSTS, the redirect to https and the
forwarded-protocol header; `manage.py check --deploy --fail-level WARNING` is then clean."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile

import pytest

SETTINGS = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_REDIRECT_EXEMPT",
]


def production_env(**extra: str) -> dict[str, str]:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment does not.
    dropped = ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="syncbeat.example",
        SYNCBEAT_VAR_DIR=tempfile.mkdtemp(prefix="syncbeat-deploy-"),
        CELERY_BROKER_URL="filesystem://",
    )
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)  # the embedded SQLite: the check is about HTTPS here
    env.update(extra)
    return env


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_under(env: dict[str, str]) -> dict:
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        f"print(json.dumps({{n: getattr(s, n, None) for n in {SETTINGS!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_deploy_check_is_clean_with_https_only():
    result = deploy_check(production_env(HTTPS_ONLY="true"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_deploy_check_warns_without_it():
    result = deploy_check(production_env())
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


def test_the_switch_sets_every_setting_and_hsts_age_is_configurable():
    on = settings_under(production_env(HTTPS_ONLY="true"))
    assert on["SESSION_COOKIE_SECURE"] and on["CSRF_COOKIE_SECURE"]
    assert on["SECURE_SSL_REDIRECT"] is True
    assert on["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert on["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert on["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert (
        settings_under(production_env(HTTPS_ONLY="true", HSTS_SECONDS="600"))["SECURE_HSTS_SECONDS"]
        == 600
    )
    off = settings_under(production_env())
    assert not off["SESSION_COOKIE_SECURE"] and not off["SECURE_SSL_REDIRECT"]
    assert not off["SECURE_HSTS_SECONDS"]


@pytest.mark.django_db
def test_over_http_the_switch_redirects_and_sends_hsts_and_secure_cookies(client, settings):
    for name, value in settings_under(production_env(HTTPS_ONLY="true")).items():
        setattr(settings, name, tuple(value) if isinstance(value, list) else value)
    settings.SECURE_REDIRECT_EXEMPT = list(settings.SECURE_REDIRECT_EXEMPT)
    plain = client.get("/login/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/login/"
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    assert secure.cookies["csrftoken"]["secure"] is True
    # A load balancer's plain-HTTP probe of /healthz is not redirected.
    assert client.get("/healthz").status_code in (200, 503)
