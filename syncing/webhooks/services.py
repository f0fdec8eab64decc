"""Registering webhook endpoints, emitting events to them, and replaying deliveries.

Domain apps call ``emit(owner, "booking.added", {...})`` inside or outside a transaction;
the deliveries are rows, sent by the periodic ``syncing.webhooks.deliver`` task (and kicked
right after the emitting transaction commits).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from syncing.plans import WEBHOOK_ENDPOINTS, plan_of
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint
from syncing.webhooks.signing import new_secret

logger = logging.getLogger("syncing.webhooks")

EVENT_TYPES = {
    "booking.added": "A booking appeared in a feed",
    "booking.changed": "A booking's dates or details changed",
    "booking.cancelled": "A booking disappeared or was cancelled",
    "conflict.opened": "Two bookings overlap (double booking)",
    "conflict.resolved": "A double booking is gone",
    "briefing.ready": "An alarm's spoken briefing is ready",
    "price.crossed": "A product's price crossed a threshold",
    "item.paused": "Syncing an item was paused after repeated failures",
}


class InvalidWebhook(ValueError):
    """A URL or event list an endpoint cannot have."""


class EndpointLimitReached(InvalidWebhook):
    """The owner's plan allows no more webhook endpoints."""


def validate_url(url: str) -> str:
    """The URL if it is http(s) with a host; raises InvalidWebhook otherwise. Private
    addresses are refused by the fetcher when delivering (resolved then, not now)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhook("Use an http or https URL with a host name.")
    if parts.username or parts.password:
        raise InvalidWebhook("Put credentials in the receiver, not in the URL.")
    return url


def validate_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidWebhook(f"Unknown event type(s): {', '.join(unknown)}.")
    if not events:
        raise InvalidWebhook("Pick at least one event type.")
    return sorted(set(events))


def endpoint_create(
    owner, *, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint with a fresh secret. Raises InvalidWebhook, and
    EndpointLimitReached past the plan's number of endpoints (plans.WEBHOOK_ENDPOINTS)."""
    cap = WEBHOOK_ENDPOINTS[plan_of(owner)]
    if WebhookEndpoint.objects.filter(owner=owner).count() >= cap:
        raise EndpointLimitReached(
            f"Your plan allows {cap} webhook endpoints; delete one or upgrade to add another."
        )
    return WebhookEndpoint.objects.create(
        owner=owner,
        url=validate_url(url),
        events=validate_events(events),
        description=description,
        secret=new_secret(),
    )


def endpoint_rotate_secret(endpoint: WebhookEndpoint) -> str:
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def endpoint_enable(endpoint: WebhookEndpoint) -> None:
    """Turn a (disabled) endpoint back on with a clean failure record."""
    endpoint.enabled = True
    endpoint.disabled_reason = ""
    endpoint.failing_since = None
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since"])


def emit_many(owner, events: list[tuple[str, dict[str, Any]]]) -> list[WebhookDelivery]:
    """Queue several events of one owner with one look-up of the owner's endpoints.

    Raises ValueError for an unknown event type (a programming error in the caller).
    """
    for event_type, _ in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown webhook event type {event_type!r}")
    if owner is None or not events:
        return []
    owner_id = getattr(owner, "pk", owner)
    endpoints = list(WebhookEndpoint.objects.filter(owner_id=owner_id, enabled=True))
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_type=event_type,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )
        for event_type, payload in events
        for endpoint in endpoints
        if event_type in endpoint.events
    )
    if deliveries:
        transaction.on_commit(_kick_delivery)
    return deliveries


def emit(owner, event_type: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue ``event_type`` with ``payload`` (JSON-able) for every enabled endpoint of
    ``owner`` subscribed to it. Returns the deliveries created (none is not an error).

    Raises ValueError for an unknown event type (a programming error in the caller).
    """
    return emit_many(owner, [(event_type, payload)])


def _kick_delivery() -> None:
    """Deliver soon rather than at the next periodic run; the periodic task covers failure."""
    try:
        from syncing.monitoring.tasks import deliver_webhooks

        deliver_webhooks.apply_async(expires=60)
    except Exception as exc:  # no broker: the periodic task delivers later
        logger.info("webhooks: could not enqueue delivery now (%s); the periodic task will", exc)


def delivery_replay(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again (same event id, so receivers can deduplicate)."""
    now = timezone.now()
    replay = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        created_at=now,
        next_attempt_at=now,
        replay_of=delivery,
    )
    transaction.on_commit(_kick_delivery)
    return replay
