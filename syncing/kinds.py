"""The registry of kinds: what the engine syncs, registered by each domain app.

A domain app declares its kinds in its ``kinds.py`` (with the rest of what it tells the
engine, syncing/domains.py), registered once in ``AppConfig.ready()``::

    Kind(
        name="calendars.feed",
        model="calendars.Feed",
        sync="calendars.services.feed_sync.sync_feed",
        queue="io",
        tiers=(TierSpec("6h", timedelta(hours=6), 500), ...),
        default_tier="6h",
        owner_path="listing__owner",
        plan_tiers={"free": "6h", "pro": "1h"},
    )

The engine never imports the domain apps; it reaches their code through these entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.utils.module_loading import import_string

from syncing.adaptive import Adaptive

if TYPE_CHECKING:
    from syncing.models import SyncedItem
    from syncing.results import SyncContext, SyncResult


class UnknownKind(LookupError):
    pass


@dataclass(frozen=True)
class TierSpec:
    """A default tier, created as a Tier row on migrate (staff may change it after)."""

    name: str
    interval: timedelta | None
    batch_limit: int = 1000
    dispatch_every: timedelta | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    model: str  # "app_label.ModelName"
    sync: str | Callable[..., SyncResult]  # dotted path or callable(item, ctx) -> SyncResult
    queue: str = "default"
    tiers: tuple[TierSpec, ...] = ()
    default_tier: str = ""
    # Items per Celery message: the unit of transport (the unit of work stays the item).
    chunk_size: int = 100
    # Items per message when they are expected to be cheap: the last sync succeeded and the
    # item holds a validator (ETag or Last-Modified), so the next one is most likely a
    # conditional request answered 304, a fraction of a full sync's CPU and wall time. A
    # message then costs at most one chunk: an item counts 1/chunk_size, a cheap one
    # 1/cheap_chunk_size (services.dispatch.split_claim). None: every item counts alike.
    cheap_chunk_size: int | None = None
    # Lookup from the item to its owner's user id, for scoping attempts ("listing__owner").
    owner_path: str = "owner"
    # Plan name -> tier name for items of this kind created by owners on that plan.
    plan_tiers: dict[str, str] = field(default_factory=dict)
    # A dispatch run claims batch after batch while each comes back full, up to this many:
    # the batch adapts to the backlog (alarms at 07:00) while the tier's batch_limit stays
    # the unit; 1 keeps batch_limit a hard cap per run (rate-limited providers).
    max_batches_per_dispatch: int = 1
    # Seconds a claimed item stays leased; a message not run by then is stale.
    lease_seconds: int | None = None
    # Optional hooks, dotted paths: called with (item, reason) when the engine pauses an item.
    on_pause: str | None = None
    # Urgency: callable(item) -> Celery priority 0 (most urgent) .. 9; None: default priority.
    priority: str | None = None
    # Routing: callable(item) -> queue name, for kinds that send some items elsewhere
    # (alarms about to ring go to "urgent"); None: every item on ``queue``.
    queue_for: str | None = None
    # Freshness: callable(kind, tier, now) -> syncing.monitoring.freshness.Freshness, for kinds
    # whose promise is not "synced within the interval" (alarms: the briefing was ready
    # before the ring). None: the interval rule (syncing.monitoring.freshness).
    freshness: str | None = None
    # Peak demand: callable(kind, now) -> syncing.monitoring.capacity.PeakShare, the share of
    # items that must be synced within a window at the busiest time (alarms: the rings of
    # the busiest lead window). None: items are spread over their interval (the average).
    peak: str | None = None
    # The column due items are claimed in order of (then next_sync_at): the most urgent
    # first when a backlog is larger than one dispatch run. Alarms: "next_ring_at" (due
    # times are ring minus a per-alarm lead, so they do not sort by ring).
    claim_order: str = "next_sync_at"
    # Lookup from the item to the users who see it on their pages, when that is not only
    # its owner (market products: everyone who watches one). Empty: ``owner_path``.
    viewer_path: str = ""
    # Adaptive polling (syncing.adaptive): the item's interval follows its learnt change
    # rate within the policy's bounds around the tier's interval. None: the fixed interval.
    adaptive: Adaptive | None = None

    @property
    def seen_by_path(self) -> str:
        return self.viewer_path or self.owner_path

    @cached_property
    def model_class(self) -> type[SyncedItem]:
        return apps.get_model(self.model)

    @cached_property
    def sync_function(self) -> Callable[[SyncedItem, SyncContext], SyncResult]:
        return import_string(self.sync) if isinstance(self.sync, str) else self.sync

    @cached_property
    def pause_hook(self) -> Callable[[SyncedItem, str], Any] | None:
        return import_string(self.on_pause) if self.on_pause else None

    @cached_property
    def queue_function(self) -> Callable[[SyncedItem], str] | None:
        return import_string(self.queue_for) if self.queue_for else None

    @cached_property
    def freshness_function(self) -> Callable[..., Any] | None:
        return import_string(self.freshness) if self.freshness else None

    @cached_property
    def peak_function(self) -> Callable[..., Any] | None:
        return import_string(self.peak) if self.peak else None

    @cached_property
    def adaptive_signal(self) -> Callable[[SyncedItem, Any], float] | None:
        signal = self.adaptive.signal if self.adaptive else None
        return import_string(signal) if signal else None

    @cached_property
    def adaptive_signal_many(self) -> Callable[[list[tuple[SyncedItem, Any]]], list] | None:
        signal = self.adaptive.signal_many if self.adaptive else None
        return import_string(signal) if signal else None

    @cached_property
    def priority_function(self) -> Callable[[SyncedItem], int] | None:
        return import_string(self.priority) if self.priority else None

    def owner_id_of(self, item: SyncedItem) -> int | None:
        """The owner's user id, following ``owner_path`` through loaded relations."""
        value: Any = item
        parts = self.owner_path.split("__")
        for part in parts[:-1]:
            value = getattr(value, part, None)
            if value is None:
                return None
        return getattr(value, parts[-1] + "_id", None)

    def tier_for_plan(self, plan: str) -> str:
        return self.plan_tiers.get(plan, self.default_tier)


_registry: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Register a kind; registering the same name twice replaces it (tests rely on this)."""
    if kind.default_tier and kind.tiers and kind.default_tier not in {t.name for t in kind.tiers}:
        raise ValueError(f"{kind.name}: default tier {kind.default_tier!r} is not among its tiers")
    _registry[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _registry.pop(name, None)


def get_kind(name: str) -> Kind:
    try:
        return _registry[name]
    except KeyError:
        raise UnknownKind(f"unknown kind {name!r}; known: {', '.join(sorted(_registry)) or 'none'}")


def all_kinds() -> list[Kind]:
    return sorted(_registry.values(), key=lambda k: k.name)


def kind_for_model(model: type) -> Kind | None:
    label = model._meta.label
    for kind in _registry.values():
        if kind.model == label:
            return kind
    return None
