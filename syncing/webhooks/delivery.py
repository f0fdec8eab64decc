"""Sending webhook deliveries: claim the due ones, POST them signed through the fetcher,
retry with exponential backoff and full jitter for a day, disable endpoints that fail for long.

Claiming is a conditional UPDATE per row (``status = pending``, due, claim free): if no row
changed, another worker got there first, so two delivery runs never send the same try.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from syncing.backoff import webhook_retry_delay
from syncing.fetcher import FetchError, fetch
from syncing.fetching.urls import host_key
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint
from syncing.webhooks.signing import SIGNATURE_HEADER, sign

logger = logging.getLogger("syncing.webhooks")

Status = WebhookDelivery.Status
CLAIM_SECONDS = 60
# Errors that no retry can fix: the URL is refused before anything is sent.
HOPELESS_REASONS = ("blocked_address", "bad_url")
BODY_EXCERPT = 2000


def retry_window() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_RETRY_SECONDS)


def disable_after() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)


def backoff(attempts: int) -> timedelta:
    """Wait before try ``attempts + 1``: the engine's policy (syncing.backoff), full jitter
    up to 30 s, 1 min, 2 min ... capped at 6 h."""
    return webhook_retry_delay(attempts)


@dataclass(frozen=True)
class DeliveryRun:
    claimed: int
    delivered: int
    failed: int


def claim_due(limit: int = 100, now: datetime | None = None) -> list[int]:
    """Claim up to ``limit`` due deliveries of enabled endpoints; returns their ids."""
    now = now or timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    candidates = list(
        WebhookDelivery.objects.filter(
            free, status=Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    claimed = []
    until = now + timedelta(seconds=CLAIM_SECONDS)
    for pk in candidates:
        if WebhookDelivery.objects.filter(free, pk=pk, status=Status.PENDING).update(
            claimed_until=until
        ):
            claimed.append(pk)
    return claimed


def deliver_due(limit: int = 100) -> DeliveryRun:
    """Claim and send due deliveries (the periodic task's body)."""
    ids = claim_due(limit)
    delivered = failed = 0
    disabled: set[int] = set()  # endpoints disabled by a failure earlier in this run
    for delivery in WebhookDelivery.objects.filter(pk__in=ids).select_related("endpoint"):
        if delivery.endpoint_id in disabled:
            failed += 1  # failed with its endpoint (disable_endpoint): nothing more is sent
            continue
        if deliver(delivery):
            delivered += 1
        else:
            failed += 1
            if not delivery.endpoint.enabled:  # as the failure read it, or disabled it
                disabled.add(delivery.endpoint_id)
    return DeliveryRun(len(ids), delivered, failed)


def envelope(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed)."""
    body = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created": delivery.created_at.isoformat(),
        "delivery": delivery.pk,
        "data": delivery.payload,
    }
    return json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def deliver(delivery: WebhookDelivery, now: datetime | None = None) -> bool:
    """Send one try of ``delivery`` and record it. Returns True when delivered (2xx)."""
    endpoint = delivery.endpoint
    body = envelope(delivery)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
        "X-Syncbeat-Event": delivery.event_type,
        "X-Syncbeat-Delivery": str(delivery.pk),
        "X-Syncbeat-Event-Id": str(delivery.event_id),
    }
    # ``data`` (not ``json``): the bytes on the wire must be the bytes signed.
    try:
        result = fetch(
            endpoint.url,
            "POST",
            data=body,
            headers=headers,
            retries=0,
            deadline=15,
            max_bytes=64 * 1024,
            # Per destination host, shared by every worker: many endpoints at one host
            # (one owner's or several owners') cannot flood it.
            rate_key=f"webhook-host:{host_key(endpoint.url)}",
            rate_limit=settings.WEBHOOK_HOST_RATE_LIMIT,
        )
    except FetchError as exc:
        if exc.reason == "rate_limited":  # our own pacing: try again soon, not a failure
            _postpone(delivery, exc.retry_after or 1.0, now or timezone.now())
            return False
        _record_failure(delivery, exc, now or timezone.now())
        return False
    now = now or timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.DELIVERED,
        attempts=delivery.attempts + 1,
        last_attempt_at=now,
        delivered_at=now,
        response_status=result.status,
        error="",
        claimed_until=None,
        response_body=result.text[:BODY_EXCERPT],
        next_attempt_at=None,
    )
    if endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
    return True


def _postpone(delivery: WebhookDelivery, seconds: float, now: datetime) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=now + timedelta(seconds=seconds), claimed_until=None
    )


def _record_failure(delivery: WebhookDelivery, exc: FetchError, now: datetime) -> None:
    attempts = delivery.attempts + 1
    next_at = now + backoff(attempts)
    gave_up = exc.reason in HOPELESS_REASONS or next_at > delivery.created_at + retry_window()
    # Only while pending: a delivery its endpoint's disabling has failed (another worker's,
    # or this run's, disable_endpoint) stays failed, not pending again with a retry.
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).update(
        status=Status.FAILED if gave_up else Status.PENDING,
        attempts=attempts,
        last_attempt_at=now,
        next_attempt_at=None if gave_up else next_at,
        response_status=exc.http_status,
        response_body="",
        error=f"{exc.reason}: {exc.message}"[:500],
        claimed_until=None,
    )
    logger.info(
        "webhook delivery %s to endpoint %s failed (%s), try %d%s",
        delivery.pk,
        delivery.endpoint_id,
        exc.reason,
        attempts,
        ", giving up" if gave_up else f", next at {next_at:%H:%M:%S}",
    )
    endpoint = delivery.endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    endpoint.refresh_from_db(fields=["failing_since", "enabled"])
    if endpoint.enabled and endpoint.failing_since <= now - disable_after():
        disable_endpoint(endpoint, now)


def disable_endpoint(endpoint: WebhookEndpoint, now: datetime | None = None) -> bool:
    """Disable an endpoint that has failed for long, fail its pending deliveries and tell
    its owner by email (once: only the call that flips ``enabled`` does)."""
    now = now or timezone.now()
    since = endpoint.failing_since or now
    reason = (
        f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every delivery failed since "
        f"{since:%Y-%m-%d %H:%M} UTC."
    )
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason
    ):
        return False
    endpoint.enabled, endpoint.disabled_reason = False, reason
    WebhookDelivery.objects.filter(endpoint=endpoint, status=Status.PENDING).update(
        status=Status.FAILED, next_attempt_at=None, error="endpoint disabled"
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    email = getattr(endpoint.owner, "email", "")
    if email:
        send_mail(
            "[Syncbeat] Your webhook endpoint was disabled",
            f"We could not deliver events to {endpoint.url}.\n\n{reason}\n\n"
            "Fix the receiver, then enable the endpoint again (PATCH enabled=true on "
            f"{settings.SITE_URL}/api/v1/webhooks/{endpoint.pk}/).",
            None,
            [email],
            fail_silently=True,
        )
    return True
