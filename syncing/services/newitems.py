"""New items are synced within moments of their creation, not at their tier's next tick.

A new item is due at once (``next_sync_at`` defaults to now). When one is saved, the
dispatch of its (kind, tier) is kicked once the transaction commits, to run a second later:
one dispatch message per (kind, tier) per transaction, and per second and process however
many items are created (a kick within that second is covered by the one already pending,
which runs after it committed). Dispatch claims due items
through the usual lease, so a kick that races beat's own dispatch claims nothing twice.
Tiers without an interval (on demand only) are left alone, and so are items created
paused or due later (an alarm's first briefing).
"""

from __future__ import annotations

import logging
import time

from django.db import connection, transaction
from django.utils import timezone

from syncing.kinds import kind_for_model
from syncing.services.tiers import tier_intervals

logger = logging.getLogger("syncing.dispatch")

# The kick goes stale quickly: beat's own dispatch is never more than 15 minutes away.
KICK_EXPIRES_SECONDS = 60
KICK_DELAY_SECONDS = 1.0
_last_kick: dict[tuple[str, str], float] = {}


def item_saved(sender, instance, created: bool = False, raw: bool = False, **kwargs) -> None:
    """post_save of any model: kick the dispatch of a new synced item's tier."""
    if not created or raw:
        return
    kind = kind_for_model(sender)
    if kind is None or getattr(instance, "paused", False):
        return
    due = getattr(instance, "next_sync_at", None)
    if due is None or due > timezone.now():
        return
    kick_dispatch(kind.name, instance.tier)


def kick_dispatch(kind: str, tier: str) -> None:
    """Run ``syncing.dispatch(kind, tier)`` soon after the current transaction commits."""
    if tier_intervals(kind).get(tier) is None:
        return  # on demand only, or an unknown tier
    key = (kind, tier)
    pending = {getattr(func, "kick_key", None) for _, func, _ in connection.run_on_commit}
    if key in pending:
        return

    def send() -> None:
        from syncing.tasks import dispatch

        now = time.monotonic()
        if now - _last_kick.get(key, -KICK_DELAY_SECONDS) < KICK_DELAY_SECONDS * 0.9:
            return  # the pending kick runs after this commit and claims this item too
        _last_kick[key] = now
        try:
            dispatch.apply_async(
                kwargs={"kind": kind, "tier": tier},
                queue="dispatch",
                countdown=KICK_DELAY_SECONDS,
                expires=KICK_EXPIRES_SECONDS,
            )
        except Exception:  # the broker is away: beat's own dispatch picks the item up
            logger.warning("could not kick dispatch of %s/%s for a new item", kind, tier)

    send.kick_key = key
    transaction.on_commit(send)
