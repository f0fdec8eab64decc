"""The capacity answer: how many worker processes, broker messages and database writes a
number of items of one kind in one tier needs, from this deployment's own attempts.

Method (Little's law plus a CPU ceiling), sized for the **peak**:
- syncs per second = the larger of the average (items / tier interval) and the kind's peak
  (``Kind.peak``: the share of its items due within one window at the busiest time, read
  from its own due-time distribution; alarms: the rings of the busiest lead window), and
  the answer says which; attempts per second add the measured failure share (a failed
  attempt is retried, so each failure costs one more attempt);
- syncs in flight = attempts/s x a slot's time per attempt. From the workers' chunk records
  (``ChunkRun``, one per message: ``chunk_measured``) when there are any: the chunks' wall
  time over their attempts, which holds all the engine's work for a message (the Celery
  message's handling in the slot, taking the leases, loading the items, the syncs, the
  flushes), plus the slot's time between two messages (see chunk_measured). Part of it is
  the time the slot waited for a CPU (Linux schedstat), which grows with the box's load:
  ``--at-load L`` scales that part from the load it was measured at to L (in proportion:
  on the bench box 1.42-1.43 ms per attempt per unit of load at loads 4.3 and 5.0), and
  ``--at-load 0`` takes it out; the CPU per attempt moves with that wait by the chunks'
  own fit of CPU against waiting (``contention``: a preempted slot returns to cold
  caches, 0.08-0.17 ms of CPU per ms of waiting on the bench box). What it predicts is
  the steady rate of busy slots: a round of items due at once adds its ramp-up (the
  claim, the first messages) and tail (the last chunks on fewer slots), which
  bench/freshness.py leaves out of its ``steady`` figure to compare. Without chunk records
  (older data): the mean attempt duration plus the engine's own time between two syncs of
  one chunk read from the attempts themselves (``between_syncs_ms``), which misses the
  work outside the attempts. The headroom figure adds the attempts' p95 - mean;
- per process: a threads pool runs ``concurrency`` syncs at once (io queue), a prefork
  child one (cpu queue); a process also tops out on CPU: the chunks' CPU per attempt (the
  slot thread's, the between-message CPU included), else the sync functions' own
  ``counts["cpu_ms"]``, else the design ceiling (~500 fetches/s per core for io, ~1,100
  no-op tasks/s otherwise);
- broker: one message per chunk of ``kind.chunk_size`` items (of ``kind.cheap_chunk_size``
  for the share of attempts answered "not modified", when the kind has one) plus one
  dispatch per run;
- database: per attempt one item update and one attempt insert (batched) plus the domain
  rows changed (measured ``items_changed``).

``throughput`` turns the same measurements around: what a given number of worker processes
sustains (syncs/s), for checking the model against a run (bench/freshness.py's burst).
``web_estimate`` answers for HTTP: machines for a request rate, from the requests/s one
machine served within the latency target in bench/api.py (no model of its own: a measured
figure, scaled, with the same headroom).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone

from syncing.kinds import get_kind
from syncing.models import ChunkRun, Outcome, SyncAttempt, Tier
from syncing.monitoring.stats import percentile_cont

MIN_ATTEMPTS = 50
MIN_CHUNKS = 3
LOOKBACK = timedelta(days=7)
HEADROOM = 1.3
DEFAULT_CONCURRENCY = {"io": 50, "urgent": 20, "cpu": 1}
CPU_CEILING_PER_SECOND = {"io": 500, "urgent": 500}
NOOP_CEILING_PER_SECOND = 1100
FLUSH_BATCH = 50


class NotEnoughData(Exception):
    """Too few attempts of the kind in the look-back to tell (``count`` has how many)."""

    def __init__(self, kind: str, count: int):
        super().__init__(
            f"Only {count} attempt(s) of {kind} in the last {LOOKBACK.days} days in this "
            f"deployment; at least {MIN_ATTEMPTS} are needed to estimate capacity."
        )
        self.count = count


@dataclass(frozen=True)
class PeakShare:
    """What a kind's ``peak`` hook says: ``share`` of its items (0-1) must be synced within
    ``window`` at the busiest time; ``sample`` items were looked at; ``label`` says what."""

    share: float
    window: timedelta
    sample: int
    label: str

    def rate(self, items: int) -> float:
        return items * self.share / self.window.total_seconds()


@dataclass(frozen=True)
class Estimate:
    kind: str
    items: int
    interval: timedelta
    attempts_measured: int
    mean_ms: float
    p95_ms: float
    failure_share: float
    cpu_ms: float | None
    syncs_per_second: float
    attempts_per_second: float
    in_flight: float
    concurrency: int
    processes: int
    broker_messages_per_second: float
    db_rows_per_second: float
    db_statements_per_second: float
    average_per_second: float = 0.0
    peak_per_second: float | None = None
    peak_label: str = ""
    basis: str = "average"  # which figure the answer is sized for: "average" or "peak"
    gap_ms: float = 0.0  # the engine's own time per attempt between syncs (see measured)
    slot_ms: float = 0.0  # a slot's whole time per attempt (chunks, or mean + gap)
    chunks: int = 0  # chunk records the slot time came from (0: from the attempts)


def parse_interval(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if not match:
        raise ValueError(f"not a tier name or interval: {text!r} (e.g. 15m, 6h)")
    number, unit = int(match[1]), match[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: number})


def tier_interval(kind: str, tier: str) -> timedelta:
    row = Tier.objects.filter(kind=kind, name=tier).first()
    if row is not None and row.interval:
        return row.interval
    return parse_interval(tier)


def demand(kind, items: int, interval: timedelta, now) -> tuple[float, float | None, str]:
    """(average syncs/s, peak syncs/s or None, what the peak is) for ``items`` items."""
    average = items / interval.total_seconds()
    if kind.peak_function is None:
        return average, None, ""
    peak = kind.peak_function(kind, now)
    return average, peak.rate(items), peak.label


def measured(kind_name: str, since=None, until=None, *, at_load: float | None = None) -> dict:
    """This deployment's attempts of the kind over LOOKBACK (or ``since`` .. ``until``):
    count ``n``, ``failed``, ``not_modified``, ``mean`` and ``p95`` ms, ``changed`` rows,
    ``cpu_ms`` (None when not recorded), and ``slot_ms`` / ``chunks``: the chunk records'
    figures (see chunk_measured), else mean + gap and 0. Raises NotEnoughData."""
    since = since or timezone.now() - LOOKBACK
    attempts = SyncAttempt.objects.filter(kind=kind_name, started_at__gte=since).exclude(
        outcome=Outcome.SKIPPED
    )
    if until is not None:
        attempts = attempts.filter(started_at__lt=until)
    row = attempts.aggregate(
        n=Count("pk"),
        failed=Count("pk", filter=Q(outcome=Outcome.FAILED)),
        not_modified=Count("pk", filter=Q(outcome=Outcome.NOT_MODIFIED)),
        mean=Avg("duration_ms"),
        changed=Avg("items_changed"),
    )
    if row["n"] < MIN_ATTEMPTS:
        raise NotEnoughData(kind_name, row["n"])
    recent = list(attempts.order_by("-started_at").values_list("duration_ms", "counts")[:10_000])
    durations = sorted(d for d, _ in recent)
    cpu = [
        c.get("cpu_ms") for _, c in recent if isinstance(c, dict) and c.get("cpu_ms") is not None
    ]
    row["cpu_ms"] = sum(cpu) / len(cpu) if cpu else None
    row["p95"] = percentile_cont(durations, 0.95) or 0.0
    chunks = chunk_measured(kind_name, since, until)
    if chunks is None:  # older data: the attempts alone (the gap between a chunk's syncs)
        gap = between_syncs_ms(kind_name, since, until)
        row.update(
            gap=gap,
            slot_ms=(row["mean"] or 0.0) + gap,
            chunks=0,
            wait_ms=None,
            load=None,
            cpu_per_wait=0.0,
        )
    else:
        slot_ms, cpu_ms = at_load_figures(chunks, at_load)
        row.update(
            gap=0.0,
            slot_ms=slot_ms,
            cpu_ms=cpu_ms,
            cpu_per_wait=chunks["cpu_per_wait"],
            chunks=chunks["chunks"],
            wait_ms=chunks["wait_ms"],
            load=chunks["load"],
        )
    return row


def at_load_figures(chunks: dict, at_load: float | None) -> tuple[float, float]:
    """(slot ms, CPU ms) per attempt with the chunks' wait for a CPU scaled from the load it
    was measured at to ``at_load`` (None: as measured; 0: no waiting), and the CPU moved with
    it by ``cpu_per_wait`` ms per ms of waiting (see contention): never below the cheapest
    chunk's CPU per attempt, the slot time never below the CPU."""
    wait, load = chunks["wait_ms"], chunks["load"]
    slot_ms, cpu_ms = chunks["slot_ms"], chunks["cpu_ms"]
    if at_load is None or wait is None:
        return slot_ms, cpu_ms
    scaled = wait * at_load / load if load else 0.0
    cpu = max(chunks["cpu_floor"], cpu_ms + chunks["cpu_per_wait"] * (scaled - wait))
    return max(cpu, slot_ms - wait + scaled + (cpu - cpu_ms)), cpu


CONTENTION_MIN_CHUNKS = 20
CONTENTION_SAMPLE = 20_000


def contention(chunks) -> tuple[float, float]:
    """(ms of CPU per attempt added per ms of waiting for a CPU per attempt, the cheapest
    chunk's CPU per attempt) over the latest chunk records of ``chunks`` (a queryset).

    A slot's CPU time is not a constant of the code: the same checks took more CPU the
    longer the slot waited for a CPU (most likely a slot preempted more often comes back to
    cold caches, and on a virtual machine part of the host's steal counts as the guest
    thread's own time; not traced further). Measured on the 2-core bench box
    (bursts of 1,500 to 10,000 feeds, load 6-12, 2026-12-01): per chunk, CPU per check
    against wait per check correlates at 0.71-0.94, 0.08-0.17 ms of CPU per ms of waiting
    (0.11-0.14 in the four rounds of one check sequence). The slope is the
    chunks' own least-squares fit, weighted by their attempts, kept within 0-1; 0 under
    CONTENTION_MIN_CHUNKS chunks with a wait, or when their waits do not vary."""
    rows = list(
        chunks.filter(items__gt=0, cpu_wait_ms__isnull=False)
        .order_by("-started_at")
        .values_list("items", "cpu_ms", "cpu_wait_ms")[:CONTENTION_SAMPLE]
    )
    floor = min((cpu / n for n, cpu, _ in rows), default=0.0)
    if len(rows) < CONTENTION_MIN_CHUNKS:
        return 0.0, floor
    total = sum(n for n, _, _ in rows)
    mean_wait = sum(w for _, _, w in rows) / total
    mean_cpu = sum(c for _, c, _ in rows) / total
    sxx = sum(n * (w / n - mean_wait) ** 2 for n, _, w in rows)
    sxy = sum(n * (w / n - mean_wait) * (c / n - mean_cpu) for n, c, w in rows)
    if sxx <= 1e-9:
        return 0.0, floor
    return min(1.0, max(0.0, sxy / sxx)), floor


def chunk_measured(kind_name: str, since, until=None) -> dict | None:
    """The workers' chunk records of the kind (``ChunkRun``) from ``since`` (to ``until``):
    ``slot_ms`` per attempt = (the chunks' wall time + the slot's time between two messages,
    per chunk) / their attempts; ``cpu_ms`` per attempt likewise with the chunks' CPU and
    the slot's CPU between messages; ``wait_ms`` per attempt the part of the wall time spent
    waiting for a CPU (None where not measured); ``load`` the mean load average. None below
    MIN_CHUNKS chunks.

    The time between two messages is all the slot's (the framework handing it the next
    message, the previous chunk's record) when the next message was already waiting as the
    slot came free (``queue_ms >= between_ms``, "back to back": a busy worker); the mean of
    those, else (never busy: the gaps are mostly idle) the slot's CPU between messages."""
    chunks = ChunkRun.objects.filter(kind=kind_name, started_at__gte=since)
    if until is not None:
        chunks = chunks.filter(started_at__lt=until)
    row = chunks.aggregate(
        chunks=Count("pk"),
        items=Sum("items"),
        wall=Sum("wall_ms"),
        cpu=Sum("cpu_ms"),
        wait=Sum("cpu_wait_ms"),
        between_cpu=Avg("between_cpu_ms"),
        load=Avg("load"),
    )
    if row["chunks"] < MIN_CHUNKS or not row["items"]:
        return None
    busy = chunks.filter(between_ms__isnull=False, queue_ms__gte=F("between_ms")).aggregate(
        n=Count("pk"), between=Avg("between_ms")
    )
    cpu_around = (row["between_cpu"] or 0.0) * row["chunks"]
    around = busy["between"] * row["chunks"] if busy["n"] >= MIN_CHUNKS else cpu_around
    cpu_per_wait, cpu_floor = contention(chunks)
    return {
        "cpu_per_wait": cpu_per_wait,
        "cpu_floor": cpu_floor,
        "chunks": row["chunks"],
        "back_to_back": busy["n"],
        "items": row["items"],
        "slot_ms": (row["wall"] + around) / row["items"],
        "cpu_ms": (row["cpu"] + cpu_around) / row["items"],
        "wait_ms": None if row["wait"] is None else row["wait"] / row["items"],
        "load": row["load"],
    }


BETWEEN_SYNCS_SAMPLE = 10_000
NEIGHBOURS_WITHIN = timedelta(seconds=1)


def between_syncs_ms(kind_name: str, since, until=None) -> float:
    """The engine's own time per attempt between two syncs in one slot (ms), from the
    attempts: a chunk's items run one after the other and their attempts are inserted
    together in that order, so an attempt and the next by id that starts within a second
    after it ended are neighbours in a chunk, and the wait between them is the engine's
    (lease check, finishing, adaptive polling). 0 without such pairs. Read from the latest
    10,000 attempts in Python, so that it answers the same on SQLite and PostgreSQL."""
    until = until or timezone.now() + timedelta(days=1)
    rows = sorted(
        SyncAttempt.objects.filter(kind=kind_name, started_at__gte=since, started_at__lt=until)
        .exclude(outcome=Outcome.SKIPPED)
        .order_by("-started_at")
        .values_list("id", "started_at", "duration_ms")[:BETWEEN_SYNCS_SAMPLE]
    )
    gaps = []
    for (_, started, duration), (_, next_started, _) in itertools.pairwise(rows):
        ended = started + timedelta(milliseconds=duration or 0)
        if ended <= next_started < ended + NEIGHBOURS_WITHIN:
            gaps.append((next_started - ended).total_seconds() * 1000)
    return sum(gaps) / len(gaps) if gaps else 0.0


def per_message(kind, cheap_share: float) -> float:
    """Messages per attempt: one per ``kind.chunk_size`` items, or with
    ``kind.cheap_chunk_size`` one per that many cheap items (services.dispatch.split_claim),
    the share of cheap ones read as the attempts answered "not modified" (a cheap item is
    one that holds a validator, whose next check is most likely a 304)."""
    if not kind.cheap_chunk_size:
        return 1 / kind.chunk_size
    return cheap_share / kind.cheap_chunk_size + (1 - cheap_share) / kind.chunk_size


def estimate(
    kind_name: str,
    items: int,
    tier: str | None = None,
    *,
    concurrency: int | None = None,
    **window,
) -> Estimate:
    """Raises UnknownKind, ValueError (tier) or NotEnoughData. ``tier`` defaults to the
    kind's default tier; ``window``: measured's since, until and at_load."""
    kind = get_kind(kind_name)
    interval = tier_interval(kind_name, tier or kind.default_tier)
    row = measured(kind_name, **window)
    cpu_ms, p95 = row["cpu_ms"], row["p95"]
    failure = row["failed"] / row["n"]
    average, peak, peak_label = demand(kind, items, interval, timezone.now())
    basis = "peak" if peak is not None and peak > average else "average"
    syncs = peak if basis == "peak" else average
    per_second = syncs / max(0.05, 1 - failure)
    in_flight = per_second * row["slot_ms"] / 1000
    in_flight_p95 = per_second * (row["slot_ms"] + max(0.0, p95 - (row["mean"] or 0))) / 1000
    slots = concurrency or DEFAULT_CONCURRENCY.get(kind.queue, 8)
    if cpu_ms:
        ceiling = 1000 / cpu_ms
    else:
        ceiling = CPU_CEILING_PER_SECOND.get(kind.queue, NOOP_CEILING_PER_SECOND)
    by_slots = in_flight_p95 / slots
    by_cpu = per_second / ceiling
    processes = max(1, math.ceil(max(by_slots, by_cpu) * HEADROOM))
    tiers = Tier.objects.filter(kind=kind_name, enabled=True, interval__isnull=False)
    dispatch_rate = sum(1 / t.dispatch_period.total_seconds() for t in tiers if t.dispatch_period)
    changed = row["changed"] or 0
    return Estimate(
        kind=kind_name,
        items=items,
        interval=interval,
        attempts_measured=row["n"],
        mean_ms=row["mean"] or 0.0,
        p95_ms=p95,
        gap_ms=row["gap"],
        slot_ms=row["slot_ms"],
        chunks=row["chunks"],
        failure_share=failure,
        cpu_ms=cpu_ms,
        syncs_per_second=syncs,
        attempts_per_second=per_second,
        in_flight=in_flight,
        concurrency=slots,
        processes=processes,
        broker_messages_per_second=per_second * per_message(kind, row["not_modified"] / row["n"])
        + dispatch_rate,
        db_rows_per_second=per_second * (2 + changed),
        db_statements_per_second=per_second * (2 / FLUSH_BATCH + (1 if changed else 0)),
        average_per_second=average,
        peak_per_second=peak,
        peak_label=peak_label,
        basis=basis,
    )


def describe(e: Estimate) -> list[str]:
    cpu = (
        f"{e.cpu_ms:.1f} ms CPU measured per attempt"
        if e.cpu_ms is not None
        else "CPU not measured per attempt: using the design ceiling per process"
    )
    slot = (
        f"a slot spends {e.slot_ms:,.1f} ms per attempt in all (from {e.chunks:,} chunk "
        "records: the engine's work around the syncs included)"
        if e.chunks
        else f"plus {e.gap_ms:,.1f} ms of the engine's own between syncs"
    )
    if e.basis == "peak":
        basis = (
            f"Sized for the peak: {e.syncs_per_second:,.1f} syncs/s ({e.peak_label}); "
            f"the average over {_human(e.interval)} is only {e.average_per_second:,.1f}/s."
        )
    elif e.peak_per_second is not None:
        basis = (
            f"Sized for the average over {_human(e.interval)}: it exceeds the peak "
            f"({e.peak_per_second:,.1f}/s, {e.peak_label})."
        )
    else:
        basis = (
            f"Sized for the average over {_human(e.interval)}: items of this kind are "
            "spread over their interval (no peak declared)."
        )
    return [
        f"{e.items:,} items of {e.kind} every {_human(e.interval)}: "
        f"{e.syncs_per_second:,.1f} syncs/s, {e.attempts_per_second:,.1f} attempts/s "
        f"with {e.failure_share:.1%} failing.",
        basis,
        f"Measured here: {e.attempts_measured:,} attempts in the last {LOOKBACK.days} days, "
        f"mean {e.mean_ms:,.0f} ms, p95 {e.p95_ms:,.0f} ms, {slot}; {cpu}.",
        f"Worker processes: {e.processes} (about {e.in_flight:,.1f} syncs in flight on "
        f"average, {e.concurrency} per process, {HEADROOM - 1:.0%} headroom).",
        f"Broker: {e.broker_messages_per_second:,.1f} messages/s.",
        f"Database: {e.db_rows_per_second:,.1f} row writes/s in about "
        f"{e.db_statements_per_second:,.1f} statements/s.",
    ]


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Throughput:
    kind: str
    processes: int
    concurrency: int
    cores: int
    by_slots: float  # syncs/s if only the slots and the measured durations limited
    by_cpu: float | None  # syncs/s if only the CPU limited (None: CPU not measured)
    syncs_per_second: float
    mean_ms: float
    cpu_ms: float | None
    attempts_measured: int
    gap_ms: float = 0.0
    slot_ms: float = 0.0  # a slot's whole time per attempt
    chunks: int = 0  # chunk records it came from (0: the attempts' mean + gap)
    wait_ms: float | None = None  # of slot_ms, waiting for a CPU (chunk records)
    load: float | None = None  # mean load average while the chunks ran
    at_load: float | None = None  # the load the wait for a CPU was scaled to
    cpu_per_wait: float = 0.0  # CPU ms per attempt added per ms of waiting (contention)


def throughput(
    kind_name: str,
    processes: int,
    *,
    concurrency: int | None = None,
    cores: int | None = None,
    **window,
) -> Throughput:
    """Syncs/s that ``processes`` worker processes of ``concurrency`` slots sustain, from
    the measured chunks (else attempts): the lower of the slots' limit (slots / a slot's
    time per attempt) and the CPU's (1000 / CPU ms per attempt, on at most ``cores`` busy
    cores: a process uses one core at most). ``window``: measured's since, until and
    at_load. Raises UnknownKind or NotEnoughData."""
    kind = get_kind(kind_name)
    row = measured(kind_name, **window)
    slots = concurrency or DEFAULT_CONCURRENCY.get(kind.queue, 8)
    mean = row["mean"] or 0.0
    slot_ms = row["slot_ms"]
    by_slots = processes * slots * 1000 / slot_ms if slot_ms else math.inf
    cpu_ms = row["cpu_ms"]
    by_cpu = None
    if cpu_ms:
        by_cpu = min(processes, cores or processes) * 1000 / cpu_ms
    rate = min(by_slots, by_cpu if by_cpu is not None else math.inf)
    return Throughput(
        kind=kind_name,
        processes=processes,
        concurrency=slots,
        cores=cores or processes,
        by_slots=by_slots,
        by_cpu=by_cpu,
        syncs_per_second=rate,
        mean_ms=mean,
        cpu_ms=cpu_ms,
        attempts_measured=row["n"],
        gap_ms=row["gap"],
        slot_ms=slot_ms,
        chunks=row["chunks"],
        wait_ms=row["wait_ms"],
        load=row["load"],
        at_load=window.get("at_load") if row["wait_ms"] is not None else None,
        cpu_per_wait=row["cpu_per_wait"],
    )


def describe_throughput(t: Throughput, items: int) -> list[str]:
    limit = "CPU" if t.by_cpu is not None and t.by_cpu <= t.by_slots else "slots"
    cpu = f"{t.cpu_ms:.2f} ms CPU" if t.cpu_ms is not None else "CPU not measured"
    if t.chunks:
        wait = "" if t.wait_ms is None else f", {t.wait_ms:,.2f} ms of it waiting for a CPU"
        load = "" if t.load is None else f" at load {t.load:.1f}"
        took = ""
        if t.at_load is not None:
            moved = f", the CPU with it by {t.cpu_per_wait:.2f} ms per ms of waiting"
            took = f" (that wait scaled to load {t.at_load:g}{moved if t.cpu_per_wait else ''})"
        measured_as = (
            f"a slot's {t.slot_ms:,.2f} ms per attempt in all{wait}{took}, {cpu}, over "
            f"{t.chunks:,} chunks{load} ({t.attempts_measured:,} attempts, mean sync "
            f"{t.mean_ms:,.1f} ms)"
        )
    else:
        measured_as = (
            f"mean {t.mean_ms:,.1f} ms plus {t.gap_ms:,.1f} ms between syncs, {cpu}, over "
            f"{t.attempts_measured:,} attempts; no chunk records"
        )
    return [
        f"{t.processes} process(es) of {t.concurrency} slot(s) on {t.cores} core(s): "
        f"{t.syncs_per_second:,.1f} syncs/s ({limit} bound; measured per attempt: "
        f"{measured_as}).",
        f"A round of {items:,} items due at once takes about {items / t.syncs_per_second:,.1f} s "
        "with every slot busy, plus its ramp-up and tail (the claim reaching the slots, the "
        "last chunks on fewer slots).",
    ]


@dataclass(frozen=True)
class WebEstimate:
    requests_per_second: float
    per_machine: float
    machines: int


def web_estimate(requests_per_second: float, per_machine: float) -> WebEstimate:
    """Machines for ``requests_per_second``, each serving ``per_machine`` requests/s (what
    bench/api.py measured on one machine within its p95 target), with HEADROOM."""
    if per_machine <= 0:
        raise ValueError("--per-machine must be above 0 (measure it with bench/api.py)")
    machines = max(1, math.ceil(requests_per_second * HEADROOM / per_machine))
    return WebEstimate(requests_per_second, per_machine, machines)


def describe_web(e: WebEstimate) -> list[str]:
    return [
        f"{e.requests_per_second:,.0f} requests/s at {e.per_machine:,.0f} per machine "
        f"(measured by bench/api.py within its p95 target): {e.machines} web machine(s) "
        f"with {HEADROOM - 1:.0%} headroom.",
        "PostgreSQL and Redis are not in that figure's machines at scale: the bench ran them "
        "on the same box, so a web machine of its own serves at least as much.",
    ]
