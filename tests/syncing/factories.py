"""Probes (the engine's no-op kind) in bulk, for engine tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from syncing.models import Probe


def make_probes(
    n: int,
    *,
    tier: str = "5m",
    due: datetime | None = None,
    spread: timedelta = timedelta(0),
    owner=None,
    **fields,
) -> list[Probe]:
    """``n`` probes due at ``due`` (default: a minute ago), the i-th ``i * spread`` later."""
    due = due or timezone.now() - timedelta(minutes=1)
    probes = [
        Probe(name=f"probe-{i}", tier=tier, next_sync_at=due + spread * i, owner=owner, **fields)
        for i in range(n)
    ]
    return Probe.objects.bulk_create(probes, batch_size=2000)
