"""Dispatch: claim a tier's due items and publish them in chunks; on-demand syncs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from syncing.kinds import Kind, get_kind
from syncing.models import Tier
from syncing.services.claims import Claim, claim_due_items, claim_one
from syncing.services.schedule import calibrate_tier

logger = logging.getLogger("syncing.dispatch")

# Celery priorities run 0 (first) .. 9 on Redis with our transport options.
ON_DEMAND_PRIORITY = 0
DEFAULT_PRIORITY = 5


@dataclass(frozen=True)
class DispatchReport:
    kind: str
    tier: str
    claimed: int
    messages: int


def dispatch_tier(kind_name: str, tier_name: str) -> DispatchReport:
    """Claim up to the tier's batch limit of due items and publish them after commit."""
    kind = get_kind(kind_name)
    tier = Tier.objects.filter(kind=kind_name, name=tier_name).first()
    if tier is None or not tier.enabled:
        logger.info("dispatch %s/%s: tier missing or disabled, nothing to do", kind_name, tier_name)
        return DispatchReport(kind_name, tier_name, 0, 0)
    # Adaptive polling: the tier's calibrated threshold moves with the evidence finishes
    # added since the last run (one conditional UPDATE of the tier row).
    calibrate_tier(kind, tier, timezone.now())
    claimed = messages = 0
    for _ in range(max(1, kind.max_batches_per_dispatch)):
        with transaction.atomic():
            claim = claim_due_items(kind, tier_name, tier.batch_limit)
            messages += publish_claim(kind, claim)
        claimed += len(claim.pks)
        if len(claim.pks) < tier.batch_limit:
            break  # the backlog is drained
    if claimed:
        logger.info(
            "dispatch %s/%s: claimed %d item(s) in %d message(s)",
            kind_name,
            tier_name,
            claimed,
            messages,
        )
    return DispatchReport(kind_name, tier_name, claimed, messages)


def publish_claim(kind: Kind, claim: Claim, *, priority: int | None = None) -> int:
    """Publish a claim's items in chunks of ``kind.chunk_size``, once the claim commits.

    Returns the number of messages. Messages expire with the lease: a message still queued
    when its lease ends is stale anyway (the item is due again and will be reclaimed).
    """
    if not claim.pks:
        return 0
    from syncing.tasks import sync_items

    groups: dict[tuple[str, int | None], list[int]] = {}
    routed = kind.priority_function is not None or kind.queue_function is not None
    if routed:
        for item in kind.model_class.objects.filter(pk__in=claim.pks):
            queue = kind.queue_function(item) if kind.queue_function else kind.queue
            if priority is not None:
                prio = priority
            else:
                prio = kind.priority_function(item) if kind.priority_function else None
            groups.setdefault((queue, prio), []).append(item.pk)
    else:
        groups[(kind.queue, priority)] = list(claim.pks)
    messages = []
    for (queue, prio), pks in groups.items():
        for chunk in split_claim(kind, pks, claim.cheap):
            messages.append((queue, prio, chunk))

    def send() -> None:
        for queue, prio, pks in messages:
            options = {
                "queue": queue,
                "expires": claim.leased_until,
                "headers": {"published_at": time.time()},
            }
            if prio is not None:
                options["priority"] = prio
            sync_items.apply_async(args=(kind.name, str(claim.token), pks), **options)

    transaction.on_commit(send)
    return len(messages)


def split_claim(kind: Kind, pks: list[int], cheap: frozenset[int] = frozenset()) -> list[list[int]]:
    """``pks`` in order, cut into the chunks of one message each: ``kind.chunk_size`` items
    a message, or with ``kind.cheap_chunk_size`` each message costing at most one chunk, an
    item in ``cheap`` counting 1/cheap_chunk_size and any other 1/chunk_size (so a message
    of items whose last sync was a 304 carries cheap_chunk_size of them, a message of new
    ones chunk_size, a mixed one in between)."""
    size, cheap_size = kind.chunk_size, kind.cheap_chunk_size
    if not cheap_size or not cheap:
        return [pks[start : start + size] for start in range(0, len(pks), size)]
    # In whole units: a message holds size x cheap_size, an item costs cheap_size (size when
    # cheap).
    budget = size * cheap_size
    chunks: list[list[int]] = []
    chunk: list[int] = []
    used = 0
    for pk in pks:
        cost = size if pk in cheap else cheap_size
        if chunk and used + cost > budget:
            chunks.append(chunk)
            chunk, used = [], 0
        chunk.append(pk)
        used += cost
    if chunk:
        chunks.append(chunk)
    return chunks


def sync_now(kind_name: str, pk: int, *, force: bool = False) -> bool:
    """Put one item at the front of its queue, through the same path as dispatch.

    Returns False when the item is already leased (a sync is on its way) or is paused and
    ``force`` is not set.
    """
    kind = get_kind(kind_name)
    with transaction.atomic():
        claim = claim_one(kind, pk, force=force)
        publish_claim(kind, claim, priority=ON_DEMAND_PRIORITY)
    return bool(claim.pks)
