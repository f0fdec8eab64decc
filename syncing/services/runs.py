"""Running claimed items: the per-item sync, its attempt record, and the next due time.

``run_claimed`` is what the worker task calls for one message, whether it carries one item
or a hundred. Each item is its own unit of work and of failure: its own attempt, its own
backoff; one failing item never fails the others. The writes that finish items are
batched, and each is conditional on the lease token, so a stale or duplicate message can
never overwrite a newer claim. ``ChunkLease`` (services.leases) holds the leases while the
chunk runs: renewed before items as needed, one runner per item, nothing run or recorded
for an item whose lease was lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections, router, transaction
from django.db.models import QuerySet
from django.db.models.query import get_related_populators
from django.utils import timezone

from syncing.backoff import reschedule_delay
from syncing.kinds import Kind, get_kind
from syncing.models import Outcome, SyncAttempt, SyncedItem
from syncing.ratelimit import batched
from syncing.results import SyncContext, SyncError, SyncResult
from syncing.services import chunkruns, finish
from syncing.services.claims import release
from syncing.services.leases import ChunkLease
from syncing.services.schedule import (
    adaptive_after_success,
    add_late_evidence,
    kind_signals,
    next_due_after_success,
)
from syncing.services.tiers import tier_intervals, tier_thresholds

logger = logging.getLogger("syncing.run")

# Finishing writes are flushed when this many are waiting or this much time has passed,
# so a killed worker loses at most a moment's work (which the next claim repeats). A
# message of cheap items (100 304s, Kind.cheap_chunk_size, ~0.1-0.2 s) is written in one
# statement and one commit; at 50 it took two, each waiting for its WAL flush.
FLUSH_EVERY_ITEMS = 100
FLUSH_EVERY_SECONDS = 0.5
# A chunk that has run this long hands its items not yet started back (due again at once,
# claimed by the next dispatch and spread over the free workers) instead of keeping them
# waiting behind slow ones (a host timing out): a longer chunk of cheap items
# (Kind.cheap_chunk_size) never holds its last items longer than this plus one sync.
HAND_BACK_AFTER_SECONDS = 180.0


@dataclass
class Finish:
    """The writes that end one item's run."""

    pk: int
    fields: dict
    attempt: SyncAttempt
    paused_now: bool = False
    pause_reason: str = ""
    adaptive: _AdaptiveStep | None = None  # left for the flush (_apply_adaptive)


@dataclass
class ChunkReport:
    ran: int = 0
    stale: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    lost_lease: list[int] = field(default_factory=list)
    attempts: list[SyncAttempt] = field(default_factory=list)
    settled: set[int] = field(default_factory=set)  # finished, dropped or handed back


class ChunkInterrupted(Exception):
    """The database went away mid-chunk; ``unfinished`` still hold the lease of ``token``
    (the claim's, or the run's own behind a transaction-mode pooler: services.leases)."""

    def __init__(self, unfinished: list[int], cause: Exception, token: uuid.UUID | None = None):
        super().__init__(f"{len(unfinished)} item(s) unfinished: {cause}")
        self.unfinished = unfinished
        self.cause = cause
        self.token = token


DATABASE_ERRORS = (OperationalError, InterfaceError)


def run_claimed(
    kind_name: str, token: str | uuid.UUID, pks: list[int], *, published: float | None = None
) -> ChunkReport:
    """Sync the items of one claim; items no longer held with ``token`` are dropped unrun.
    ``published``: when the message was published (epoch seconds), for its chunk record.

    Raises ChunkInterrupted on a database error (connection lost, server restarting): the
    caller retries the unfinished items with backoff, or their short lease brings them back.
    """
    clock = chunkruns.ChunkClock()
    kind = get_kind(kind_name)
    token = uuid.UUID(str(token))
    report = ChunkReport()
    lease = ChunkLease(kind, token)
    try:
        # Fetches of one host in the chunk share rate-limit round trips (ratelimit.batched).
        with lease.heartbeat(), batched(expected=len(pks)):
            _run_chunk(kind, lease, pks, report)
    except DATABASE_ERRORS as exc:
        lease.locked = set()  # they go with the connection
        with contextlib.suppress(Exception):
            connection.close()
        unfinished = [pk for pk in pks if pk not in report.settled]
        logger.warning(
            "%s: database error in claim %s, %d item(s) unfinished: %s",
            kind.name,
            token,
            len(unfinished),
            exc,
        )
        raise ChunkInterrupted(unfinished, exc, lease.token) from exc
    finally:
        with contextlib.suppress(*DATABASE_ERRORS):
            lease.close()
    _log_dropped(kind, token, report)
    tier = report.attempts[0].tier if report.attempts else ""
    chunkruns.record(
        kind.name, tier, clock, claimed=len(pks), items=len(report.attempts), published=published
    )
    return report


def _run_chunk(kind: Kind, lease: ChunkLease, pks: list[int], report: ChunkReport) -> None:
    held = lease.take(pks)
    items = _load(kind, held)
    report.busy = list(lease.busy)
    for pk in pks:
        if pk not in items:
            (report.busy if pk in lease.busy else report.stale).append(pk)
    report.settled.update(pk for pk in pks if pk not in items)
    intervals = tier_intervals(kind.name)
    pending: list[Finish] = []
    last_flush = started = time.monotonic()
    for index, pk in enumerate(pks):
        if pk not in items or pk in report.settled:
            continue
        if report.ran and time.monotonic() - started > HAND_BACK_AFTER_SECONDS:
            _hand_back(kind, lease, pks[index:], items, pending, report, "chunk ran long")
            return
        if not lease.hold(pk):
            report.lost_lease.append(pk)
            report.settled.add(pk)
            continue
        try:
            pending.append(_run_one(kind, items[pk], intervals))
        except SoftTimeLimitExceeded:
            # Out of time for this message: record what finished, hand the rest back.
            _hand_back(kind, lease, pks[index:], items, pending, report, "soft time limit")
            return
        report.ran += 1
        if len(pending) >= FLUSH_EVERY_ITEMS or time.monotonic() - last_flush > FLUSH_EVERY_SECONDS:
            _flush(kind, lease, pending, report)
            pending = []
            last_flush = time.monotonic()
    _flush(kind, lease, pending, report)


def _hand_back(
    kind: Kind,
    lease: ChunkLease,
    rest: list[int],
    items: dict[int, SyncedItem],
    pending: list[Finish],
    report: ChunkReport,
    why: str,
) -> None:
    """Record what finished, and release the items of ``rest`` not settled yet (due again
    at once, for the next claim)."""
    rest = [p for p in rest if p in items and p not in report.settled]
    logger.warning("%s: %s, releasing %d items", kind.name, why, len(rest))
    _flush(kind, lease, pending, report)
    release(kind, lease.token, rest)
    lease.done(rest)
    report.settled.update(rest)


def _load(kind: Kind, pks: set[int]) -> dict[int, SyncedItem]:
    """The chunk's items (with the relation of their owner path), by primary key."""
    if not pks:
        return {}
    alias = router.db_for_read(kind.model_class)
    loader = _loader(kind, alias)
    if loader is not None:
        return loader.load(pks)
    return {item.pk: item for item in _load_queryset(kind, pks).using(alias)}


def _load_queryset(kind: Kind, pks) -> QuerySet:
    qs = kind.model_class.objects.filter(pk__in=pks)
    relation = kind.owner_path.rsplit("__", 1)[0] if "__" in kind.owner_path else None
    if relation:
        qs = qs.select_related(relation)
    return qs


class _Loader:
    """``_load_queryset``'s query compiled once (per thread, database and kind) with
    ``pk = ANY(%s)``: a chunk's load then costs the statement and the instances, not Django
    compiling the same SQL again (a third of the load's CPU, ~0.04 ms of every 304). The rows
    become instances exactly as the queryset's iterator makes them (converters, ``from_db``,
    the related object populated)."""

    def __init__(self, kind: Kind, alias: str, compiler, sql: str) -> None:
        self.connection = connections[alias]
        self.alias = alias
        self.compiler = compiler
        self.sql = sql
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, select, alias)
        self.converters = compiler.get_converters([s[0] for s in select[: compiler.col_count]])

    def load(self, pks: set[int]) -> dict[int, SyncedItem]:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, [sorted(pks)])
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        items = {}
        start, end, alias, init_list = self.start, self.end, self.alias, self.init_list
        for row in rows:
            item = self.model.from_db(alias, init_list, row[start:end])
            for populator in self.populators:
                populator.populate(row, item)
            items[item.pk] = item
        return items


_loaders = threading.local()


def _loader(kind: Kind, alias: str) -> _Loader | None:
    """This thread's compiled load of ``kind`` on ``alias``; None where it does not apply
    (not PostgreSQL, or a query whose SQL is not the expected shape: the ORM then runs)."""
    cache = getattr(_loaders, "cache", None)
    if cache is None:
        cache = _loaders.cache = {}
    connection_ = connections[alias]
    key = (kind.name, alias, kind.model_class, kind.owner_path)
    loader = cache.get(key, False)
    if loader is False or (loader is not None and loader.connection is not connection_):
        loader = cache[key] = _compile_loader(kind, alias)
    return loader


def _compile_loader(kind: Kind, alias: str) -> _Loader | None:
    connection_ = connections[alias]
    if connection_.vendor != "postgresql":
        return None
    placeholder = -1
    qs = _load_queryset(kind, [placeholder]).using(alias)
    compiler = qs.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    meta = kind.model_class._meta
    quote = connection_.ops.quote_name
    in_list = f"{quote(meta.db_table)}.{quote(meta.pk.column)} IN (%s)"
    if tuple(params) != (placeholder,) or sql.count(in_list) != 1 or sql.count("%s") != 1:
        logger.info("%s: items loaded through the ORM (unexpected SQL shape)", kind.name)
        return None
    sql = sql.replace(in_list, f"{quote(meta.db_table)}.{quote(meta.pk.column)} = ANY(%s)")
    return _Loader(kind, alias, compiler, sql)


def _log_dropped(kind: Kind, token: uuid.UUID, report: ChunkReport) -> None:
    if report.stale:
        logger.info(
            "%s: dropped %d stale or duplicate item(s) of claim %s: %s",
            kind.name,
            len(report.stale),
            token,
            report.stale[:20],
        )
    if report.busy:
        logger.info(
            "%s: %d item(s) of claim %s already running elsewhere (duplicate delivery): %s",
            kind.name,
            len(report.busy),
            token,
            report.busy[:20],
        )


@dataclass
class _Outcome:
    """What one sync function call gave: a result or an error, and what it cost."""

    result: SyncResult | None
    error: SyncError | None
    started: datetime
    duration_ms: int
    cpu_ms: float


@dataclass
class _AdaptiveStep:
    """Adaptive polling's step after a success, left for the flush (where the kind's signal
    is asked for all pending items at once)."""

    item: SyncedItem
    interval: timedelta | None
    changed: bool
    now: datetime
    # How many of the item's records the sync changed (SyncResult.items_changed): the
    # changes it saw, for the tier's calibration (syncing.adaptive.late_evidence).
    seen: int = 0


def _run_one(kind: Kind, item: SyncedItem, intervals: dict[str, timedelta | None]) -> Finish:
    ctx = SyncContext(kind=kind, item=item)
    outcome = _call_sync(kind, item, ctx)
    now = timezone.now()
    attempt = SyncAttempt(
        kind=kind.name,
        item_id=item.pk,
        tier=item.tier,
        owner_id=kind.owner_id_of(item),
        started_at=outcome.started,
        duration_ms=outcome.duration_ms,
    )
    if outcome.error is None:
        return _success(kind, item, ctx, outcome, attempt, intervals.get(item.tier), now)
    return _failure(kind, item, outcome, attempt, now)


def _call_sync(kind: Kind, item: SyncedItem, ctx: SyncContext) -> _Outcome:
    """Run the kind's sync function; a SyncError (or a bug) is the item's failure."""
    started = timezone.now()
    clock = time.perf_counter()
    cpu_clock = time.thread_time()
    error: SyncError | None = None
    result: SyncResult | None = None
    try:
        result = kind.sync_function(item, ctx) or SyncResult()
    except SyncError as exc:
        error = exc
    except (SoftTimeLimitExceeded, *DATABASE_ERRORS):
        raise  # out of time, or the database is away: not the item's fault
    except Exception as exc:  # a bug in a sync function fails its item, never the chunk
        logger.exception("%s #%s: unexpected error in sync", kind.name, item.pk)
        error = SyncError("error", f"{type(exc).__name__}: {exc}"[:500])
    duration_ms = int((time.perf_counter() - clock) * 1000)
    cpu_ms = round((time.thread_time() - cpu_clock) * 1000, 2)
    return _Outcome(result, error, started, duration_ms, cpu_ms)


def _success(
    kind: Kind,
    item: SyncedItem,
    ctx: SyncContext,
    outcome: _Outcome,
    attempt: SyncAttempt,
    interval: timedelta | None,
    now: datetime,
) -> Finish:
    """The finish of a successful sync: the tier's next due time (adaptive polling's, if
    any, is filled in at the flush), the validators the sync function remembered."""
    result = outcome.result
    attempt.outcome = result.outcome
    attempt.reason = result.reason
    attempt.message = result.message[:500]
    attempt.http_status = result.http_status
    attempt.bytes = result.bytes
    attempt.items_changed = result.items_changed
    attempt.retries = result.retries
    attempt.counts = {**result.counts, "cpu_ms": outcome.cpu_ms}
    next_due = result.next_sync_at or next_due_after_success(
        previous_due=item.next_sync_at,
        interval=interval,
        now=now,
        first_sync=item.last_synced_at is None,
    )
    fields = {
        "last_synced_at": now,
        "last_success_at": now if result.outcome != Outcome.SKIPPED else item.last_success_at,
        "next_sync_at": next_due or item.next_sync_at,
        "consecutive_failures": 0,
        "last_error": "",
    }
    for name in ("etag", "last_modified", "content_hash"):
        value = getattr(ctx, name)
        if value is not None:
            fields[name] = value[:256]
    step = _adaptive_step(kind, item, result, interval, now)
    return Finish(pk=item.pk, fields=fields, attempt=attempt, adaptive=step)


def _failure(
    kind: Kind, item: SyncedItem, outcome: _Outcome, attempt: SyncAttempt, now: datetime
) -> Finish:
    """The finish of a failed sync: backoff, and a pause after too many failures in a row."""
    error = outcome.error
    failures = item.consecutive_failures + 1
    attempt.outcome = Outcome.FAILED
    attempt.reason = error.reason[:64]
    attempt.message = error.message[:500]
    attempt.http_status = error.http_status
    attempt.bytes = error.bytes_read
    attempt.retries = getattr(error, "retries", 0) or 0
    attempt.counts = {"cpu_ms": outcome.cpu_ms}
    delay = reschedule_delay(failures, retry_after=error.retry_after)
    fields = {
        "last_synced_at": now,
        "next_sync_at": now + delay,
        "consecutive_failures": failures,
        "last_error": error.message[:500],
    }
    finish_ = Finish(pk=item.pk, fields=fields, attempt=attempt)
    if failures >= settings.SYNC_PAUSE_AFTER_FAILURES and not item.paused:
        reason = f"Paused after {failures} failures in a row. Last error: {error.message}"[:500]
        fields["paused"] = True
        fields["pause_reason"] = reason
        finish_.paused_now = True
        finish_.pause_reason = reason
    logger.info(
        "%s #%s failed (%s, %s in a row), next try at %s",
        kind.name,
        item.pk,
        error.reason,
        failures,
        fields["next_sync_at"].isoformat(timespec="seconds"),
    )
    return finish_


def _adaptive_step(
    kind: Kind, item: SyncedItem, result: SyncResult, interval: timedelta | None, now
) -> _AdaptiveStep | None:
    """Adaptive polling's step after a success, or None where the tier's fixed rule applies:
    the kind did not opt in, the sync function chose the next due time itself, or the sync
    was skipped (it observed nothing)."""
    if kind.adaptive is None or result.next_sync_at or result.outcome == Outcome.SKIPPED:
        return None
    changed = result.outcome == Outcome.OK and result.items_changed > 0
    return _AdaptiveStep(
        item=item,
        interval=interval,
        changed=changed,
        now=now,
        seen=result.items_changed if changed else 0,
    )


def _apply_adaptive(kind: Kind, pending: list[Finish]) -> None:
    """Adaptive polling's writes (with its next_sync_at) for the pending finishes that have
    a step, the kind's signal asked for all of them at once."""
    steps = [f for f in pending if f.adaptive is not None]
    if not steps:
        return
    signals = kind_signals(kind, [(f.adaptive.item, f.adaptive.now) for f in steps])
    thresholds = tier_thresholds(kind.name)
    evidence: dict[str, tuple[float, float]] = {}
    for f, signal in zip(steps, signals, strict=True):
        step = f.adaptive
        tier = step.item.tier
        fields = adaptive_after_success(
            kind,
            step.item,
            interval=step.interval,
            changed=step.changed,
            now=step.now,
            seen=step.seen,
            signal=signal,
            threshold=thresholds.get(tier),
        )
        if fields:
            changes, late = fields.pop("late_evidence")
            total = evidence.get(tier, (0.0, 0.0))
            evidence[tier] = (total[0] + changes, total[1] + late)
            f.fields.update(fields)
        f.adaptive = None
    if evidence:
        # The tier's calibration (schedule.calibrate_tier): one UPDATE per tier per flush.
        add_late_evidence(kind, evidence)


def _flush(kind: Kind, lease: ChunkLease, pending: list[Finish], report: ChunkReport) -> None:
    """Write the finishes (and attempts) of items still held; a lost lease writes nothing."""
    if not pending:
        return
    _apply_adaptive(kind, pending)
    # One statement on PostgreSQL (atomic by itself); a transaction where the writes are
    # several (elsewhere) or where pause notices must wait for the commit.
    needs_transaction = connection.vendor != "postgresql" or any(f.paused_now for f in pending)
    with transaction.atomic() if needs_transaction else contextlib.nullcontext():
        written = finish.write_finishes_and_attempts(
            kind, lease.token, pending, unlock_class=lease.unlock_class
        )
        kept = [f for f in pending if f.pk in written]
        for f in kept:
            if f.paused_now:
                item_pk, reason = f.pk, f.pause_reason
                owner_id = f.attempt.owner_id
                transaction.on_commit(
                    lambda pk=item_pk, r=reason, o=owner_id: _notify_paused(kind, pk, r, o)
                )
    done = [f.pk for f in pending]
    lease.done(done, unlocked=written)
    report.settled.update(done)
    report.attempts.extend(f.attempt for f in kept)
    lost = [f.pk for f in pending if f.pk not in written]
    if lost:
        report.lost_lease.extend(lost)
        logger.warning(
            "%s: lease lost before finishing %s (claimed again elsewhere); nothing recorded",
            kind.name,
            lost[:20],
        )


def _notify_paused(kind: Kind, pk: int, reason: str, owner_id: int | None) -> None:
    """Tell the owner: the kind's own hook (or a plain email), and an item.paused webhook."""
    from syncing.services.notify import owner_item_paused
    from syncing.webhooks.services import emit

    if owner_id:
        emit(owner_id, "item.paused", {"kind": kind.name, "id": pk, "reason": reason})
    item = kind.model_class.objects.filter(pk=pk).first()
    if item is None:
        return
    try:
        if kind.pause_hook is not None:
            kind.pause_hook(item, reason)
        else:
            owner_item_paused(kind, item, reason, owner_id)
    except Exception:
        logger.exception("%s #%s: pause notice failed", kind.name, pk)
