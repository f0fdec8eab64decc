"""Configuration mistakes as Django system checks (``manage.py check``)."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def broker_and_cache(app_configs, **kwargs):
    problems = []
    broker = settings.CELERY_BROKER_URL
    db_engine = settings.DATABASES["default"]["ENGINE"]
    if db_engine.endswith("postgresql") and broker.startswith("filesystem"):
        problems.append(
            Warning(
                "PostgreSQL with the filesystem broker: workers on other machines cannot share it.",
                hint="Set CELERY_BROKER_URL to a Redis or RabbitMQ URL.",
                id="syncing.W001",
            )
        )
    if not settings.DEBUG and settings.ALLOW_PRIVATE_URLS:
        problems.append(
            Warning(
                "ALLOW_PRIVATE_URLS is on: owners can make the fetcher call private and "
                "loopback addresses.",
                hint="Leave it off in production.",
                id="syncing.W002",
            )
        )
    cache_backend = settings.CACHES["default"]["BACKEND"]
    if "replica" in settings.DATABASES and cache_backend.endswith("LocMemCache"):
        problems.append(
            Warning(
                "DATABASE_REPLICA_URL with a per-process cache: the mark that keeps a user's "
                "reads on the primary after a write is not seen by the other web processes.",
                hint="Set REDIS_URL (read-your-writes across processes, syncing.replica).",
                id="syncing.W003",
            )
        )
    if settings.CELERY_TASK_TIME_LIMIT >= settings.CELERY_VISIBILITY_TIMEOUT:
        problems.append(
            Error(
                "CELERY_TASK_TIME_LIMIT must be below CELERY_VISIBILITY_TIMEOUT.",
                id="syncing.E001",
            )
        )
    return problems


@register()
def time_limits_within_the_lease(app_configs, **kwargs):
    """An item must finish within the lease it starts with, or a second runner may start it.

    A running chunk renews its leases once a third of the lease has passed, so each item
    starts with at least two thirds of a lease ahead; the fetcher's total deadline (the time
    limit of one item's outbound call, retries included) must fit in that, so that an item
    stays covered even when the lease heartbeat cannot reach the database.
    """
    from syncing.kinds import all_kinds
    from syncing.services.claims import lease_seconds

    problems = []
    for kind in all_kinds() or [None]:
        lease = lease_seconds(kind) if kind else settings.SYNC_LEASE_SECONDS
        if lease * 2 / 3 < settings.FETCH_DEADLINE:
            name = kind.name if kind else "SYNC_LEASE_SECONDS"
            problems.append(
                Error(
                    f"{name}: a lease of {lease} s is shorter than 1.5 x FETCH_DEADLINE "
                    f"({settings.FETCH_DEADLINE:g} s): an item could outlive its lease.",
                    hint="Raise SYNC_LEASE_SECONDS (or the kind's lease_seconds), or lower "
                    "FETCH_DEADLINE.",
                    id="syncing.E002",
                )
            )
    return problems
