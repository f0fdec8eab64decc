"""The DATABASES entries config/settings.py builds from the environment: the primary (its
connection handling on PostgreSQL, behind PgBouncer, or on SQLite) and the optional read
replica. Pure functions of the parsed URLs and values: settings.py reads the environment.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

POSTGRESQL = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"


def pooler_mode(value: str) -> str:
    """DATABASE_POOLER: "transaction" (PgBouncer in pool_mode=transaction) or "" (none)."""
    value = value.lower()
    if value not in ("", "none", "transaction"):
        raise ImproperlyConfigured("DATABASE_POOLER: expected transaction or none")
    return "" if value == "none" else value


def primary_database(
    db: dict,
    *,
    pooler: str,
    pool: bool,
    pool_min_size: int,
    pool_max_size: int,
    conn_max_age: int,
) -> dict:
    """``db`` (a parsed DATABASE_URL) with the connection handling its engine needs."""
    if pooler and db["ENGINE"] != POSTGRESQL:
        raise ImproperlyConfigured("DATABASE_POOLER=transaction needs a postgres:// DATABASE_URL")
    options = db.setdefault("OPTIONS", {})
    if pooler == "transaction":
        # Every transaction may get another server session, so nothing may live in a
        # session: no psycopg pool (PgBouncer is the pool), no server-side cursors, no
        # prepared statements.
        db["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None
        db["CONN_MAX_AGE"] = conn_max_age
        db["CONN_HEALTH_CHECKS"] = True
    elif db["ENGINE"] == POSTGRESQL:
        # Web processes use psycopg's connection pool; Celery's prefork children set
        # DATABASE_POOL=false (a pool's threads do not survive fork) and keep persistent
        # connections instead.
        if pool:
            options["pool"] = {"min_size": pool_min_size, "max_size": pool_max_size, "timeout": 10}
        else:
            db["CONN_MAX_AGE"] = conn_max_age
            db["CONN_HEALTH_CHECKS"] = True
    elif db["ENGINE"] == SQLITE:
        # WAL lets the web page read while a worker writes; the timeout waits for the writer
        # instead of failing with "database is locked".
        options.update(
            {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    if not options:
        del db["OPTIONS"]
    return db


def replica_database(primary: dict, replica: dict, *, connect_timeout: int) -> dict:
    """``replica`` (a parsed DATABASE_REPLICA_URL) with the primary's connection handling
    (pool or persistent connections) and a short connect timeout (syncing.replica)."""
    if primary["ENGINE"] != POSTGRESQL:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL: needs a postgres:// DATABASE_URL")
    if replica["ENGINE"] != primary["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL: expected a postgres:// URL")
    for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "DISABLE_SERVER_SIDE_CURSORS"):
        if key in primary:
            replica[key] = primary[key]
    primary_options = primary.get("OPTIONS", {})
    replica["OPTIONS"] = {
        **{k: v for k, v in primary_options.items() if k != "pool"},
        **replica.get("OPTIONS", {}),
        "connect_timeout": connect_timeout,
    }
    if "pool" in primary_options:
        replica["OPTIONS"]["pool"] = {**primary_options["pool"], "timeout": connect_timeout}
    # The test runner makes no second test database: the replica alias points at default's.
    replica["TEST"] = {"MIRROR": "default"}
    return replica
