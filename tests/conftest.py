"""Shared fixtures: named owners (Alice owns, Bob is another owner, Charlie has nothing),
API clients with real tokens, and markers that skip tests whose services are missing."""

from __future__ import annotations

import pytest
from django.conf import settings
from knox.models import AuthToken
from rest_framework.test import APIClient

_skipped_for: dict[str, int] = {"PostgreSQL": 0, "Redis": 0, "chromium": 0, "espeak-ng": 0}


def pytest_collection_modifyitems(config, items):
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    espeak = shutil.which("espeak-ng")
    for item in items:
        # Everything that starts a real Celery worker, beat or the fault suite talks to the
        # broker: `pytest -m broker` runs them again on another one (TEST_BROKER=rabbitmq).
        if "worker" in item.keywords or "faults" in item.keywords:
            item.add_marker(pytest.mark.broker)
        # A worker is another process: it cannot see the test's SQLite database, so every
        # worker test needs PostgreSQL, whether it says so or not.
        needs_postgres = "postgres" in item.keywords or "worker" in item.keywords
        if needs_postgres and not settings.POSTGRES_AVAILABLE:
            _skipped_for["PostgreSQL"] += 1
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (not answering)"))
        if ("redis" in item.keywords or "worker" in item.keywords) and not settings.REDIS_AVAILABLE:
            _skipped_for["Redis"] += 1
            item.add_marker(pytest.mark.skip(reason="needs Redis (not answering)"))
        if "browser" in item.keywords and not chromium:
            if settings.REQUIRE_SERVICES:
                raise pytest.UsageError("REQUIRE_SERVICES=1 but chromium is not installed")
            _skipped_for["chromium"] += 1
            item.add_marker(pytest.mark.skip(reason="needs Debian's chromium"))
        if "espeak" in item.keywords and not espeak:
            if settings.REQUIRE_SERVICES:
                raise pytest.UsageError("REQUIRE_SERVICES=1 but espeak-ng is not installed")
            _skipped_for["espeak-ng"] += 1
            item.add_marker(pytest.mark.skip(reason="needs espeak-ng"))


def pytest_terminal_summary(terminalreporter):
    db = "PostgreSQL" if settings.POSTGRES_AVAILABLE else "SQLite"
    redis = "Redis" if settings.REDIS_AVAILABLE else "no Redis"
    terminalreporter.write_line(f"services: {db}, {redis}, broker {settings.TEST_BROKER_URL}")
    missing = [f"{n} tests skipped: {name} missing" for name, n in _skipped_for.items() if n]
    if missing:
        terminalreporter.write_line("; ".join(missing))


def _flush_by_delete() -> None:
    """Between transactional tests Django empties every table with one TRUNCATE: on
    PostgreSQL that is 2.3-2.7 s here (43 tables and 78 partitions, each given new files),
    against 0.02 s for a DELETE of the few rows a test leaves. Flush by DELETE, foreign-key
    triggers off for the flush's own transaction, as TRUNCATE ignores them too (the suite
    connects as a superuser; any other role keeps TRUNCATE)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            superuser = cursor.fetchone()[0]
        if not tables or reset_sequences or not superuser:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            "SET LOCAL session_replication_role = replica",
            *(f"DELETE FROM {self.quote_name(table)}" for table in tables),  # noqa: S608 - table names
            "SET LOCAL session_replication_role = DEFAULT",
        ]

    DatabaseOperations.sql_flush = sql_flush


_flush_by_delete()


@pytest.fixture(autouse=True)
def _forget_tier_caches():
    """Tier names and intervals are cached per process for a few seconds; a test that renames
    or re-times a tier is rolled back, its cache entries must go too."""
    yield
    from syncing.services.tiers import forget_cached_intervals

    forget_cached_intervals()


def make_owner(email: str, *, plan: str = "pro", staff: bool = False):
    from django.contrib.auth import get_user_model

    from syncing.models import Account

    user = get_user_model().objects.create_user(
        username=email,
        email=email,
        password="correct horse battery staple",
        is_staff=staff,
        is_superuser=staff,
    )
    Account.objects.create(user=user, plan=plan)
    return user


def api_client_for(user) -> APIClient:
    client = APIClient()
    _, key = AuthToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def alice(db):
    return make_owner("alice@example.com")


@pytest.fixture
def bob(db):
    return make_owner("bob@example.com")


@pytest.fixture
def charlie(db):
    return make_owner("charlie@example.com", plan="free")


@pytest.fixture
def staff(db):
    return make_owner("staff@example.com", staff=True)


@pytest.fixture
def alice_api(alice):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob):
    return api_client_for(bob)


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def allow_private_urls(settings):
    """Local test servers live on 127.0.0.1: let the fetcher reach them."""
    settings.ALLOW_PRIVATE_URLS = True
    return settings


@pytest.fixture
def temporary_kind():
    """Register kinds for this test only: ``temporary_kind(Kind(...))`` returns the kind; at
    teardown each name gets back what it had (nothing, or the real kind a test replaced)."""
    from contextlib import ExitStack

    from tests.support.kinds import registered_kind

    with ExitStack() as stack:
        yield lambda kind: stack.enter_context(registered_kind(kind))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL the test database commits without waiting for the disk
    (``synchronous_commit = off`` for every session on it, the workers' and PgBouncer's
    included): a commit here waited 3.5-4.8 ms for the WAL flush, against 0.1 ms without.
    A crash of the server could lose the last commits; the suite never crashes the shared
    server (the fault suite runs a cluster of its own, with the default)."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            name = connection.settings_dict["NAME"]
            with connection.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
                cursor.execute("SET synchronous_commit = off")
