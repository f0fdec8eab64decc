"""The probe kind's sync function: no I/O, optionally slow or failing on purpose."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import F

from syncing.kinds import Kind, TierSpec
from syncing.models import Probe
from syncing.results import PermanentSyncError, SyncContext, SyncResult, TransientSyncError

PROBE_KIND = Kind(
    name="syncing.probe",
    model="syncing.Probe",
    sync="syncing.probe.sync_probe",
    queue="default",
    tiers=(
        TierSpec("1m", timedelta(minutes=1), batch_limit=10_000),
        TierSpec("5m", timedelta(minutes=5), batch_limit=10_000),
        TierSpec("1h", timedelta(hours=1), batch_limit=10_000),
    ),
    default_tier="5m",
    chunk_size=100,
    owner_path="owner",
)


def sync_probe(probe: Probe, ctx: SyncContext) -> SyncResult:
    if probe.sleep_ms:
        time.sleep(probe.sleep_ms / 1000)
    if probe.mode == Probe.Mode.TRANSIENT:
        raise TransientSyncError("probe_transient", "Probe set to fail (transient)")
    if probe.mode == Probe.Mode.PERMANENT:
        raise PermanentSyncError("probe_permanent", "Probe set to fail (permanent)")
    if probe.mode == Probe.Mode.SLOW or probe.sleep_ms:
        Probe.objects.filter(pk=probe.pk).update(runs=F("runs") + 1)
        return SyncResult(counts={"slept_ms": probe.sleep_ms})
    return SyncResult()
