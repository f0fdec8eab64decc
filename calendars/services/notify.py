"""Emails to owners: double bookings found, a feed paused by the engine."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from calendars.models import Conflict, Feed, Listing

logger = logging.getLogger("calendars.notify")

# Conflicts listed in one email; the rest are counted, with a link to the conflicts page.
MAX_LISTED = 20


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def notify_new_conflicts(listing_id: int) -> int:
    """Email the owner about the listing's open conflicts nobody was told about yet (only
    real double bookings are conflicts; a dismissed one is never announced).

    The unannounced conflicts are locked (SKIP LOCKED) and marked in one UPDATE before the
    email goes out, so two imports finishing at once never announce the same conflict
    twice. One email covers all the conflicts claimed together; it lists the first
    MAX_LISTED by date and links to the conflicts page for the rest. Returns how many
    conflicts it announced.
    """
    listing = Listing.objects.select_related("owner").filter(pk=listing_id).first()
    if listing is None or not listing.owner.email:
        return 0
    now = timezone.now()
    with transaction.atomic():
        # Lock the unannounced rows (skipping those another import is announcing right now)
        # and mark them in one UPDATE: each conflict is announced once.
        claimed = list(
            Conflict.objects.select_for_update(skip_locked=True)
            .filter(
                listing=listing,
                resolved_at__isnull=True,
                notified_at__isnull=True,
                dismissed_at__isnull=True,
            )
            .order_by()
            .values_list("pk", flat=True)
        )
        if claimed:
            Conflict.objects.filter(pk__in=claimed).update(notified_at=now)
    if not claimed:
        return 0
    total = len(claimed)
    conflicts = list(
        Conflict.objects.filter(pk__in=claimed)
        .select_related("event_a__feed", "event_b__feed")
        .order_by("overlap_start", "pk")[:MAX_LISTED]
    )
    context = {
        "listing": listing,
        "conflicts": conflicts,
        "total": total,
        "more": total - len(conflicts),
        "url": _site_url(reverse("calendars:conflicts")),
    }
    noun = "double booking" if total == 1 else f"{total} double bookings"
    send_mail(
        subject=f"Syncbeat: {noun} on {listing.name}",
        message=render_to_string("calendars/email/conflicts.txt", context),
        from_email=None,
        recipient_list=[listing.owner.email],
        fail_silently=False,
    )
    logger.info(
        "listing #%s: told %s about %d conflict(s)", listing.pk, listing.owner, len(claimed)
    )
    return len(claimed)


def feed_paused(feed: Feed, reason: str) -> None:
    """The engine's on_pause hook: tell the owner their feed stopped syncing, and why."""
    feed = Feed.objects.select_related("listing__owner").get(pk=feed.pk)
    owner = feed.listing.owner
    if not owner.email:
        return
    context = {"feed": feed, "reason": reason, "url": _site_url(reverse("calendars:index"))}
    send_mail(
        subject=f"Syncbeat: {feed.label} feed of {feed.listing.name} is paused",
        message=render_to_string("calendars/email/feed_paused.txt", context),
        from_email=None,
        recipient_list=[owner.email],
        fail_silently=False,
    )
