"""Health checks for /healthz: database, broker and cache.

Without credentials the answer is each component's up/down and the status code (200 when
all are up, else 503); staff and callers with ``Authorization: Bearer <METRICS_TOKEN>`` also
get each check's latency and error. Every check is bounded: its own connect and socket
timeouts (HEALTH_CHECK_TIMEOUT, 2 s), and the checks run side by side under one deadline
a little longer than that, so an unreachable service answers "down" instead of hanging.
"""

from __future__ import annotations

import hmac
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _timeout() -> float:
    return float(settings.HEALTH_CHECK_TIMEOUT)


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"ok": True}
        if detail:
            result["detail"] = detail
    except Exception as exc:  # a health check reports every failure, whatever its type
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> str:
    """A fresh connection with a connect timeout (the pool would wait its own 10 s)."""
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.get_connection_params()
        params.pop("context", None)
        params.pop("cursor_factory", None)
        seconds = max(1, round(_timeout()))
        params["connect_timeout"] = seconds
        params["options"] = f"-c statement_timeout={seconds * 1000}"
        with psycopg.connect(**params) as conn:
            conn.execute("SELECT 1").fetchone()
    elif connection.vendor == "sqlite":
        conn = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=_timeout())
        try:
            conn.execute("SELECT 1").fetchone()
        finally:
            conn.close()
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return connection.vendor


def _broker() -> str:
    # The project's Celery app is the current one (config imports it with Django's settings);
    # the engine never imports config.
    from celery import current_app as app

    seconds = _timeout()
    options = {"socket_timeout": seconds, "socket_connect_timeout": seconds}
    with app.connection_for_write(connect_timeout=seconds, transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, timeout=seconds)
        return (
            conn.transport_cls
            if isinstance(conn.transport_cls, str)
            else conn.transport.driver_type
        )


def _cache() -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", 5)
    if cache.get(key) != "1":
        raise RuntimeError("value written was not read back")
    cache.delete(key)
    return cache.__class__.__name__


CHECKS = {"database": _database, "broker": _broker, "cache": _cache}


def run_checks() -> dict:
    """Every check, side by side, each answered within about HEALTH_CHECK_TIMEOUT."""
    deadline = time.monotonic() + _timeout() + 0.5
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="healthz")
    futures = {name: pool.submit(_timed, check) for name, check in CHECKS.items()}
    checks = {}
    for name, future in futures.items():
        try:
            checks[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            checks[name] = {"ok": False, "error": f"no answer within {_timeout():g} s"}
    pool.shutdown(wait=False, cancel_futures=True)  # a stuck check must not hold the request
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def may_see_details(request: HttpRequest) -> bool:
    """Staff, or a caller with the metrics token."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def health_response(request: HttpRequest) -> JsonResponse:
    report = run_checks()
    status = 200 if report["ok"] else 503
    if not may_see_details(request):
        checks = {name: "up" if c["ok"] else "down" for name, c in report["checks"].items()}
        report = {"ok": report["ok"], "checks": checks}
    return JsonResponse(report, status=status)
