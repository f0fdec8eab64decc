"""Benchmark: adaptive polling against the fixed interval, in simulated time.

    .venv/bin/python bench/adaptive.py                       # 1,000 feeds, 28 days, 5 plans
    .venv/bin/python bench/adaptive.py --days 10 --warmup 3  # the window measured before
    .venv/bin/python bench/adaptive.py --seed 3 --report adaptive_trial --policy \
        late_target=0.045 hot_rates=360:0.008,15:0.0085   # a trial, beside adaptive.json

No processes and no database: the engine's own estimator and allocation
(syncing.adaptive, with the calendars kind's policy) drive every feed's checks. The feed
population is skewed like real channel calendars: most feeds change a few times a month,
some daily, a few many times a day (log-normal rates); changes happen mostly in the
daytime (08:00-22:00 carries ~90% of them) and come in bursts (a change is followed by
another within ~30 minutes one time in three: a booking, then its edits). Checks run on the
tier's dispatch grid, as in production: the kind's own dispatch period when its policy says
(calendars: every minute, ``Adaptive.dispatch_every``), else a tenth of the interval (1 to
15 minutes); the fixed schedule and the adaptive one alike. The measured window is the
steady state: days ``--warmup`` (14: two of the estimator's memories, so every feed's rate
is learnt) to ``--days`` (28). The warm-up's own figures, each feed's first two weeks while
its rate is learnt, are reported beside it (``first_days``): before 2026-12-02 the bench
measured days 3-10, feeds still learning, and read fewer fetches saved than the steady
state that a fleet of known feeds runs in. After the last day the simulation runs on for a
tail (the policy's longest interval and an hour), its fetches not counted, so that every
change of the measured days is seen: before the tail, the changes whose detection fell
past the end (the longest waits, mostly adaptive ones) were left out of the figures.

Each plan's threshold is calibrated online as the engine does it (syncing.adaptive.calibrate,
one shared state per plan, moved every ``--epoch`` simulated minutes by the checks'
``late_evidence``, each check counting the changes it saw as a calendar import counts its
changed events; the engine moves it at every dispatch run, at the same pace per hour).

Reported per plan interval: fetches spent, and the time from a change to the check that
saw it (p50, p95, over all changes), fixed vs adaptive; the share of changes seen later
than the fixed schedule's p95; the engine's own estimate of its late share (past 0.95x the
interval) beside the true one, and the calibrated threshold's start and mean. Writes
bench/reports/adaptive.json (``--report NAME``: bench/reports/NAME.json).
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncing.adaptive import (  # noqa: E402
    Adaptive,
    Calibration,
    ChangeStats,
    Signal,
    allocate,
    by_tier,
    calibrate,
    estimate_rate,
    hot_threshold,
    late_evidence,
    late_target,
    observe,
    planning_rate,
    waking_hours_factor,
)
from syncing.adaptive import dispatch_tick as adaptive_dispatch_tick  # noqa: E402

PLANS = {"free": 6 * 60, "starter": 3 * 60, "pro": 60, "business": 15, "realtime": 5}  # minutes
DAY = 24 * 60
DAYTIME = (8 * 60, 22 * 60)
DAYTIME_SHARE = 0.9
BURST_CHANCE = 1 / 3
BURST_MEAN = 30.0  # minutes


@dataclass
class Feed:
    rate: float  # changes per day
    changes: list[float]  # minutes since the start


def daily_rate(rng: random.Random) -> float:
    """Changes per day: log-normal, median ~0.25 (one a few days), a long busy tail."""
    return min(40.0, math.exp(rng.gauss(math.log(0.25), 1.6)))


def simulate_changes(rng: random.Random, per_day: float, minutes: float) -> list[float]:
    """Change times (minutes): Poisson with a day/night profile, and bursts."""
    day_len = DAYTIME[1] - DAYTIME[0]
    day_intensity = per_day * DAYTIME_SHARE / day_len
    night_intensity = per_day * (1 - DAYTIME_SHARE) / (DAY - day_len)
    peak = max(day_intensity, night_intensity)
    times, t = [], 0.0
    while True:  # thinning: draw at the peak rate, keep by the hour's intensity
        t += rng.expovariate(peak)
        if t >= minutes:
            break
        minute = t % DAY
        here = day_intensity if DAYTIME[0] <= minute < DAYTIME[1] else night_intensity
        if rng.random() < here / peak:
            times.append(t)
            follow = t
            while rng.random() < BURST_CHANCE:
                follow += rng.expovariate(1 / BURST_MEAN)
                if follow < minutes:
                    times.append(follow)
    return sorted(times)


def dispatch_tick(interval: float, policy: Adaptive) -> float:
    """Minutes between dispatch runs: the kind's tiers' own period (calendars: every minute,
    ``Adaptive.dispatch_every``), for the fixed schedule and the adaptive one alike."""
    return adaptive_dispatch_tick(timedelta(minutes=interval), policy).total_seconds() / 60


def on_grid(t: float, tick: float) -> float:
    return math.ceil(t / tick - 1e-9) * tick


def fixed_checks(phase: float, interval: float, tick: float, minutes: float) -> list[float]:
    start = on_grid(phase, tick)
    count = int((minutes - start) // interval) + 1
    return [start + k * interval for k in range(count)]


def bench_signal(t: float, policy: Adaptive) -> Signal:
    """The calendars signal at minute ``t``: the simulated feeds live in one zone, their
    listings' own (its check-in part needs bookings: not simulated). As calendars does, the
    time of day is a multiplier of the interval when the policy has no daily profile."""
    hour = t % DAY / 60
    factor = waking_hours_factor(int(hour)) if policy.daily_profile is None else 1.0
    return Signal(factor=factor, local_hour=hour)


class AdaptiveFeed:
    """One feed's checks by the engine's rule, advanced an epoch at a time so that its tier's
    calibrated threshold (shared by every feed of the plan) can move between epochs, as the
    engine's dispatch runs move it (``oracle``: plan with this rate, changes per hour,
    instead of the learnt one: perfect knowledge, for the bound)."""

    def __init__(self, feed, phase, interval, tick, policy, oracle=None, count_seen=True):
        self.feed, self.tick, self.policy, self.oracle = feed, tick, policy, oracle
        self.base = timedelta(minutes=interval)
        self.memory_hours = policy.memory.total_seconds() / 3600
        self.stats, self.checks = ChangeStats(), []
        self.t, self.seen, self.previous = on_grid(phase, tick), 0, None
        self.count_seen = count_seen

    def advance(self, until: float, threshold: float | None) -> tuple[float, float]:
        """Run the checks before minute ``until``; their ``late_evidence`` summed."""
        changes = late = 0.0
        policy, feed = self.policy, self.feed
        while self.t < until:
            t = self.t
            self.checks.append(t)
            upto = bisect.bisect_right(feed.changes, t)
            changed = upto > self.seen
            count, self.seen = upto - self.seen, upto
            if self.previous is None:
                wait = self.base  # the first sync only sets the baseline
            else:
                hours = (t - self.previous) / 60
                self.stats = observe(
                    self.stats, hours=hours, changed=changed, memory_hours=self.memory_hours
                )
                rate = planning_rate(self.stats, policy, base=self.base)
                if self.oracle is not None and rate is not None:
                    rate = self.oracle
                signal = bench_signal(t, policy)
                if changed:
                    seen, was_late = late_evidence(
                        estimate_rate(self.stats),
                        base=self.base,
                        policy=policy,
                        hours=hours,
                        changed=True,
                        local_hour=signal.local_hour,
                        seen=count if self.count_seen else None,
                        checks=self.stats.n,
                        watched=self.stats.c + self.stats.u,
                    )
                    changes, late = changes + seen, late + was_late
                wait = allocate(
                    rate,
                    base=self.base,
                    policy=policy,
                    changed=changed,
                    signal=signal,
                    threshold=threshold,
                )
            self.previous = t
            self.t = on_grid(t + wait.total_seconds() / 60, self.tick)
        return changes, late


def adaptive_runs(
    feeds: list[Feed], phases: list[float], interval: float, tick: float, args, policy
) -> tuple[list[list[float]], dict]:
    """Every feed's adaptive checks, in epochs of ``args.epoch`` minutes; after each, the
    plan's calibration moves by the checks' ``late_evidence`` (``calibrate``, what the
    engine's dispatch runs do). Returns the checks and the calibration's trace."""
    minutes, since, end = args.horizon, args.warmup * DAY, args.days * DAY
    base = timedelta(minutes=interval)
    runs = [
        AdaptiveFeed(
            feed,
            phase,
            interval,
            tick,
            policy,
            feed.rate / 24 if args.oracle else None,
            count_seen=not args.rate_evidence,
        )
        for feed, phase in zip(feeds, phases, strict=True)
    ]
    state, estimated = Calibration(), [0.0, 0.0]
    thresholds = []
    epoch = args.epoch
    t = 0.0
    while t < minutes:
        t = min(t + epoch, minutes)
        changes = late = 0.0
        for run in runs:
            seen, was_late = run.advance(t, state.threshold)
            changes, late = changes + seen, late + was_late
        if since < t <= end:
            estimated[0] += changes
            estimated[1] += late
            thresholds.append(state.threshold or hot_threshold(base, policy))
        state = calibrate(
            state, late=late, changes=changes, hours=epoch / 60, base=base, policy=policy
        )
    trace = {
        "estimated_late_share": round(estimated[1] / max(estimated[0], 1e-9), 4),
        "threshold_start": hot_threshold(base, policy),
        "threshold_min": round(min(thresholds), 6) if thresholds else None,
        "threshold_mean": round(sum(thresholds) / len(thresholds), 6) if thresholds else None,
        "threshold_max": round(max(thresholds), 6) if thresholds else None,
        "threshold_end": round(state.threshold or hot_threshold(base, policy), 6),
    }
    return [run.checks for run in runs], trace


def detection_delays(
    changes: list[float], checks: list[float], since: float, end: float
) -> list[float]:
    """The time from each change in [since, end) to the first check at or after it. The
    checks run on past ``end`` (``--days`` plus a tail as long as the policy's longest
    interval), so every change in the window is seen; one that is not counts as never
    seen (infinitely late), not left out: the longest waits, adaptive polling's, were the
    ones that fell past the end and out of the figures before the tail."""
    delays = []
    for when in changes:
        if when < since or when >= end:
            continue
        i = bisect.bisect_left(checks, when)
        delays.append(checks[i] - when if i < len(checks) else math.inf)
    return delays


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def window_figures(feeds, schedule, since: float, end: float, fixed_p95=None) -> tuple:
    """Fetches and time to detect over the changes in [since, end) for one schedule (each
    feed's checks); with ``fixed_p95``, the share seen later than it. And the delays."""
    fetches, delays = 0, []
    for feed, checks in zip(feeds, schedule, strict=True):
        fetches += sum(1 for c in checks if since <= c < end)
        delays.extend(detection_delays(feed.changes, checks, since, end))
    figures = {
        "fetches": fetches,
        "changes": len(delays),
        "p50_minutes": round(percentile(delays, 0.5), 1),
        "p95_minutes": round(percentile(delays, 0.95), 1),
    }
    if fixed_p95 is not None:
        late = sum(1 for d in delays if d > fixed_p95)
        figures["later_than_fixed_p95"] = round(late / max(1, len(delays)), 4)
    return figures, delays


def run_plan(feeds: list[Feed], interval: float, args, policy: Adaptive, rng) -> dict:
    """One plan's fixed and adaptive schedules over the same changes. The measured window
    is ``[warmup, days)``: the steady state of feeds known longer than the warm-up; the
    warm-up's own figures (each feed's first days, while its rate is learnt: it keeps the
    plan's interval for its first checks, then plans with a young estimate) are reported
    beside them as ``first_days``."""
    since, end = args.warmup * DAY, args.days * DAY
    tick = dispatch_tick(interval, policy)
    fixed_phases = [rng.uniform(0, interval) for _ in feeds]
    adaptive, trace = adaptive_runs(
        feeds, [rng.uniform(0, interval) for _ in feeds], interval, tick, args, policy
    )
    fixed = [fixed_checks(phase, interval, tick, args.horizon) for phase in fixed_phases]
    result = {}
    result["fixed"], _ = window_figures(feeds, fixed, since, end)
    fixed_p95 = result["fixed"]["p95_minutes"]
    result["adaptive"], delays = window_figures(feeds, adaptive, since, end, fixed_p95)
    # The engine's own estimate of its late share (later than hot_factor x the interval).
    target = interval * policy.hot_factor
    true_late = sum(1 for d in delays if d > target) / max(1, len(delays))
    result["adaptive"]["later_than_target"] = round(true_late, 4)
    result["calibration"] = trace
    result["fetches_saved"] = round(
        1 - result["adaptive"]["fetches"] / result["fixed"]["fetches"], 3
    )
    if since > 0:
        first_fixed, _ = window_figures(feeds, fixed, 0.0, since)
        first, _ = window_figures(feeds, adaptive, 0.0, since, first_fixed["p95_minutes"])
        result["first_days"] = {
            "days": args.warmup,
            "fixed": first_fixed,
            "adaptive": first,
            "fetches_saved": round(1 - first["fetches"] / max(1, first_fixed["fetches"]), 3),
        }
    return result


def _value(text: str):
    """A --policy value: a number, a comma-separated tuple of numbers, or a word."""
    try:
        return float(text)
    except ValueError:
        pass
    if "," in text:
        return tuple(float(part) for part in text.split(","))
    return None if text == "none" else text


PER_TIER = ("hot_rates", "late_targets", "rate_statistics", "calibration_min_hours_by")


def _by_interval(text: str) -> tuple:
    """A --policy value for a per-tier field (``PER_TIER``): ``MINUTES:VALUE,...``, e.g.
    ``hot_rates=360:0.008,60:0.006`` or ``rate_statistics=15:mean`` ("none": empty)."""
    if text in ("", "none"):
        return ()
    pairs = (part.split(":", 1) for part in text.split(","))
    return tuple((timedelta(minutes=float(m)), _value(v)) for m, v in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--days", type=float, default=28)
    parser.add_argument(
        "--warmup",
        type=float,
        default=14,
        help="days before the measured window (every feed's rate learnt: two memories); "
        "their figures are reported beside it as first_days",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plans", nargs="*", default=list(PLANS))
    parser.add_argument(
        "--policy",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="override the calendars policy: floor_factor=3 after_change=0.25 (memory and "
        "longest in hours, dispatch_every in minutes; per-tier tables as MINUTES:VALUE,...)",
    )
    parser.add_argument(
        "--sqrt",
        action="store_true",
        help="the square-root rule shipped before the p95 rule (calendars.kinds.FEED_POLICY_SQRT)",
    )
    parser.add_argument(
        "--epoch",
        type=float,
        default=60.0,
        help="minutes between calibration steps (the engine's: every dispatch run)",
    )
    parser.add_argument(
        "--report",
        default="adaptive",
        help="report name under bench/reports/ (trial runs: not the shipped adaptive.json)",
    )
    parser.add_argument(
        "--oracle", action="store_true", help="plan with each feed's true rate (the bound)"
    )
    parser.add_argument(
        "--rate-evidence",
        action="store_true",
        help="late evidence by the rate alone, not the changes each check saw (as shipped "
        "before; the engine falls back to it where a kind does not count its changes)",
    )
    args = parser.parse_args()
    from calendars.kinds import FEED_POLICY, FEED_POLICY_SQRT

    if args.sqrt:
        FEED_POLICY = FEED_POLICY_SQRT
    overrides = dict(pair.split("=", 1) for pair in args.policy)
    values = {k: _by_interval(v) if k in PER_TIER else _value(v) for k, v in overrides.items()}
    for key in ("memory", "longest", "calibration_memory"):  # in hours
        if key in values:
            values[key] = timedelta(hours=values[key])
    if values.get("dispatch_every"):  # in minutes
        values["dispatch_every"] = timedelta(minutes=values["dispatch_every"])
    FEED_POLICY = replace(FEED_POLICY, **values)

    rng = random.Random(args.seed)
    minutes = args.days * DAY
    # Changes and checks run on for a tail past the measured window (the longest interval
    # and an hour), so that every change in it is seen; the tail's changes come from a
    # generator of their own, so the population is the same draw with or without it.
    tail = FEED_POLICY.longest.total_seconds() / 60 + 60
    args.horizon = minutes + tail
    feeds = []
    for n in range(args.feeds):
        rate = daily_rate(rng)
        later = simulate_changes(random.Random(f"{args.seed}-tail-{n}"), rate, args.horizon)
        changes = simulate_changes(rng, rate, minutes) + [t for t in later if t >= minutes]
        feeds.append(Feed(rate=rate, changes=changes))
    rates = sorted(f.rate for f in feeds)
    report = {
        "feeds": args.feeds,
        "days": args.days,
        "warmup_days": args.warmup,
        "tail_minutes": round(args.horizon - minutes),
        "seed": args.seed,
        "changes_per_day": {
            "p50": round(percentile(rates, 0.5), 2),
            "p90": round(percentile(rates, 0.9), 2),
            "p99": round(percentile(rates, 0.99), 2),
        },
        "policy": {
            "rule": FEED_POLICY.rule,
            "hot_changes_per_hour": FEED_POLICY.hot_rate,
            "hot_changes_per_hour_by_plan": {
                plan: hot_threshold(timedelta(minutes=m), FEED_POLICY) for plan, m in PLANS.items()
            },
            "late_target_by_plan": {
                plan: late_target(timedelta(minutes=m), FEED_POLICY) for plan, m in PLANS.items()
            },
            "calibration_gain_per_hour": FEED_POLICY.calibration_gain,
            "calibration_memory_hours": FEED_POLICY.calibration_memory.total_seconds() / 3600,
            "calibration_span": FEED_POLICY.calibration_span,
            "calibration_epoch_minutes": args.epoch,
            "hot_factor": FEED_POLICY.hot_factor,
            "confidence": FEED_POLICY.confidence,
            "rate_statistic": FEED_POLICY.rate_statistic,
            "rate_statistic_by_plan": {
                plan: by_tier(FEED_POLICY.rate_statistics, timedelta(minutes=m), None)
                for plan, m in PLANS.items()
            },
            "calibration_min_checks": FEED_POLICY.calibration_min_checks,
            "calibration_min_hours": FEED_POLICY.calibration_min_hours,
            "calibration_min_hours_by_plan": {
                plan: by_tier(FEED_POLICY.calibration_min_hours_by, timedelta(minutes=m), None)
                for plan, m in PLANS.items()
            },
            "daily_profile": FEED_POLICY.daily_profile,
            "floor_factor": FEED_POLICY.floor_factor,
            "ceiling_factor": FEED_POLICY.ceiling_factor,
            "longest_hours": FEED_POLICY.longest.total_seconds() / 3600,
            "memory_days": FEED_POLICY.memory.total_seconds() / 86400,
            "after_change": FEED_POLICY.after_change,
            "dispatch_minutes": {plan: dispatch_tick(m, FEED_POLICY) for plan, m in PLANS.items()},
            "reference_changes_per_day": (FEED_POLICY.reference_rate or 0) * 24,
            "waking_hours": "x0.8 from 08:00 to 22:00, x2 at night",
        },
        "plans": {},
    }
    print(
        f"{'plan':<9} {'interval':>8} | {'fetches':>17} {'saved':>6} | "
        f"{'p50 min':>13} | {'p95 min':>13}"
    )
    print(
        f"{'':<9} {'':>8} | {'fixed':>8} {'adapt':>8} {'':>6} | {'fixed':>6} {'adapt':>6} | "
        f"{'fixed':>6} {'adapt':>6}"
    )
    for plan in args.plans:
        interval = PLANS[plan]
        row = run_plan(feeds, interval, args, FEED_POLICY, random.Random(args.seed + interval))
        report["plans"][plan] = {"interval_minutes": interval, **row}
        f, a = row["fixed"], row["adaptive"]
        print(
            f"{plan:<9} {interval:>7}m | {f['fetches']:>8} {a['fetches']:>8} "
            f"{row['fetches_saved']:>6.0%} | {f['p50_minutes']:>6} {a['p50_minutes']:>6} | "
            f"{f['p95_minutes']:>6} {a['p95_minutes']:>6} | "
            f"{a['later_than_fixed_p95']:.2%} late "
            f"(engine's estimate {row['calibration']['estimated_late_share']:.2%} vs "
            f"{a['later_than_target']:.2%} past the target; threshold "
            f"{row['calibration']['threshold_start']:.4f} -> "
            f"{row['calibration']['threshold_mean']:.4f} mean)"
        )
        if "first_days" in row:
            first = row["first_days"]
            print(
                f"{'':<9} first {first['days']:g} days: {first['fetches_saved']:.0%} saved, "
                f"p95 {first['fixed']['p95_minutes']} vs {first['adaptive']['p95_minutes']}, "
                f"{first['adaptive']['later_than_fixed_p95']:.2%} late"
            )
    from bench._setup import write_report

    print("wrote", write_report(args.report, report))


if __name__ == "__main__":
    main()
