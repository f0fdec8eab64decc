"""Tier rows drive the beat schedule: any change to a tier updates its periodic task."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from syncing.models import Tier
from syncing.services.beat import remove_periodic_task, sync_periodic_task
from syncing.services.newitems import item_saved
from syncing.services.tiers import forget_cached_intervals


@receiver(post_save, sender=Tier, dispatch_uid="syncing.tier_saved")
def tier_saved(sender, instance: Tier, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    sync_periodic_task(instance)
    forget_cached_intervals()


@receiver(post_delete, sender=Tier, dispatch_uid="syncing.tier_deleted")
def tier_deleted(sender, instance: Tier, **kwargs) -> None:
    remove_periodic_task(instance)
    forget_cached_intervals()


# Any model: a new synced item kicks its tier's dispatch (syncing.services.newitems).
post_save.connect(item_saved, dispatch_uid="syncing.new_item_kicks_dispatch")
