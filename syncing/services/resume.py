"""An owner resumes a paused item: its own action, never a side effect of "Sync now"."""

from __future__ import annotations

from django.utils import timezone

from syncing.kinds import get_kind
from syncing.services.dispatch import sync_now


def item_resume(kind_name: str, pk: int, *, owner=None) -> bool:
    """Unpause one item (of ``owner``, when given), forget its failure streak and put it at
    the front of its queue. Returns False when there was no such paused item."""
    kind = get_kind(kind_name)
    items = kind.model_class.objects.filter(pk=pk, paused=True)
    if owner is not None:
        items = items.filter(**{kind.owner_path: owner})
    resumed = items.update(
        paused=False, pause_reason="", consecutive_failures=0, next_sync_at=timezone.now()
    )
    if resumed:
        sync_now(kind_name, pk)
    return bool(resumed)
