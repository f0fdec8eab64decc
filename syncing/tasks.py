"""Thin Celery entry points: dispatch a tier, sync a chunk of claimed items."""

from __future__ import annotations

from celery import shared_task
from celery.signals import beat_init

from syncing.backoff import CHUNK_RETRIES, chunk_retry_delay
from syncing.monitoring import tasks as _monitoring_tasks  # noqa: F401  (periodic tasks)
from syncing.services.beat import reconcile_at_beat_start
from syncing.services.dispatch import dispatch_tier
from syncing.services.runs import ChunkInterrupted, run_claimed

# Beat reads its schedule from the database: bring it in step with the tiers first.
beat_init.connect(reconcile_at_beat_start, dispatch_uid="syncing.reconcile_at_beat_start")


@shared_task(name="syncing.dispatch", acks_late=True, ignore_result=True)
def dispatch(kind: str, tier: str) -> int:
    """Beat's entry: claim due items of (kind, tier) and fan them out. Returns the count."""
    return dispatch_tier(kind, tier).claimed


@shared_task(
    name="syncing.sync_items",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=CHUNK_RETRIES,
)
def sync_items(self, kind: str, token: str, pks: list[int]) -> int:
    """Sync the items of one claim; returns how many ran (stale ones are dropped).

    A database error mid-chunk retries the unfinished items (still leased with the same
    token, or the run's own behind PgBouncer) with backoff and full jitter; past the retries
    their short lease brings them back.
    """
    try:
        published = getattr(self.request, "published_at", None)  # dispatch's header
        return run_claimed(kind, token, pks, published=published).ran
    except ChunkInterrupted as exc:
        raise self.retry(
            args=(kind, str(exc.token or token), exc.unfinished),
            countdown=chunk_retry_delay(self.request.retries),
            exc=exc.cause,
        ) from exc
