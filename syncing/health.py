"""Health checks for /healthz: database, broker and cache, each with its latency."""

from __future__ import annotations

import time
import uuid

from django.core.cache import cache
from django.db import connection


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
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _broker() -> str:
    from config.celery_app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
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


def run_checks() -> dict:
    checks = {"database": _timed(_database), "broker": _timed(_broker), "cache": _timed(_cache)}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
