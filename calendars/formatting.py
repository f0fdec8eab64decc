"""How calendars writes an instant in its API, webhooks and import summaries: one format
for services and serializers alike (services never import serializers)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_instant(value: datetime) -> str:
    """ISO 8601 UTC with a Z: 2025-07-01T15:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
