"""Benchmark: adaptive polling against the fixed interval, in simulated time.

    .venv/bin/python bench/adaptive.py                       # 1,000 feeds, 10 days, 5 plans
    .venv/bin/python bench/adaptive.py --feeds 3000 --days 14 --seed 7

No processes and no database: the engine's own estimator and allocation
(syncing.adaptive, with the calendars kind's policy) drive every feed's checks. The feed
population is skewed like real channel calendars: most feeds change a few times a month,
some daily, a few many times a day (log-normal rates); changes happen mostly in the
daytime (08:00-22:00 carries ~90% of them) and come in bursts (a change is followed by
another within ~30 minutes one time in three: a booking, then its edits). Checks run on the
tier's dispatch grid, as in production: the kind's own dispatch period when its policy says
(calendars: every minute, ``Adaptive.dispatch_every``), else a tenth of the interval (1 to
15 minutes); the fixed schedule and the adaptive one alike. The first ``--warmup`` days are
left out of the figures (the estimator learns there; the fixed schedule needs no learning,
its figures are the same either way).

Reported per plan interval: fetches spent, and the time from a change to the check that
saw it (p50, p95, over all changes), fixed vs adaptive. Writes bench/reports/adaptive.json.
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
    ChangeStats,
    Signal,
    allocate,
    hot_threshold,
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


def adaptive_checks(
    feed: Feed,
    phase: float,
    interval: float,
    tick: float,
    minutes: float,
    policy: Adaptive,
    oracle: float | None = None,
) -> list[float]:
    """The check times the engine's rule picks for one feed (``oracle``: plan with this rate,
    changes per hour, instead of the learnt one: perfect knowledge, for the bound)."""
    base = timedelta(minutes=interval)
    memory_hours = policy.memory.total_seconds() / 3600
    stats, checks = ChangeStats(), []
    t, seen = on_grid(phase, tick), 0
    previous = None
    while t < minutes:
        checks.append(t)
        upto = bisect.bisect_right(feed.changes, t)
        changed = upto > seen
        seen = upto
        if previous is None:
            wait = base  # the first sync only sets the baseline
        else:
            stats = observe(
                stats, hours=(t - previous) / 60, changed=changed, memory_hours=memory_hours
            )
            rate = planning_rate(stats, policy)
            if oracle is not None and rate is not None:
                rate = oracle
            wait = allocate(
                rate, base=base, policy=policy, changed=changed, signal=bench_signal(t, policy)
            )
        previous = t
        t = on_grid(t + wait.total_seconds() / 60, tick)
    return checks


def detection_delays(changes: list[float], checks: list[float], since: float) -> list[float]:
    delays = []
    for when in changes:
        if when < since:
            continue
        i = bisect.bisect_left(checks, when)
        if i < len(checks):
            delays.append(checks[i] - when)
    return delays


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def run_plan(feeds: list[Feed], interval: float, args, policy: Adaptive, rng) -> dict:
    minutes = args.days * DAY
    since = args.warmup * DAY
    tick = dispatch_tick(interval, policy)
    result = {}
    for name in ("fixed", "adaptive"):
        fetches, delays = 0, []
        for feed in feeds:
            phase = rng.uniform(0, interval)
            if name == "fixed":
                checks = fixed_checks(phase, interval, tick, minutes)
            else:
                oracle = feed.rate / 24 if args.oracle else None
                checks = adaptive_checks(feed, phase, interval, tick, minutes, policy, oracle)
            fetches += sum(1 for c in checks if c >= since)
            delays.extend(detection_delays(feed.changes, checks, since))
        result[name] = {
            "fetches": fetches,
            "changes": len(delays),
            "p50_minutes": round(percentile(delays, 0.5), 1),
            "p95_minutes": round(percentile(delays, 0.95), 1),
        }
    fixed_p95 = result["fixed"]["p95_minutes"]
    late = sum(1 for d in delays if d > fixed_p95)  # the adaptive run's delays
    result["adaptive"]["later_than_fixed_p95"] = round(late / max(1, len(delays)), 4)
    result["fetches_saved"] = round(
        1 - result["adaptive"]["fetches"] / result["fixed"]["fetches"], 3
    )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--days", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plans", nargs="*", default=list(PLANS))
    parser.add_argument(
        "--policy",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="override the calendars policy: floor_factor=3 after_change=0.25 (memory and "
        "longest in hours, dispatch_every in minutes)",
    )
    parser.add_argument(
        "--sqrt",
        action="store_true",
        help="the square-root rule shipped before the p95 rule (calendars.kinds.FEED_POLICY_SQRT)",
    )
    parser.add_argument(
        "--oracle", action="store_true", help="plan with each feed's true rate (the bound)"
    )
    args = parser.parse_args()
    from calendars.kinds import FEED_POLICY, FEED_POLICY_SQRT

    if args.sqrt:
        FEED_POLICY = FEED_POLICY_SQRT
    overrides = dict(pair.split("=", 1) for pair in args.policy)
    values = {k: _value(v) for k, v in overrides.items()}
    for key in ("memory", "longest"):  # in hours
        if key in values:
            values[key] = timedelta(hours=values[key])
    if values.get("dispatch_every"):  # in minutes
        values["dispatch_every"] = timedelta(minutes=values["dispatch_every"])
    FEED_POLICY = replace(FEED_POLICY, **values)

    rng = random.Random(args.seed)
    minutes = args.days * DAY
    feeds = []
    for _ in range(args.feeds):
        rate = daily_rate(rng)
        feeds.append(Feed(rate=rate, changes=simulate_changes(rng, rate, minutes)))
    rates = sorted(f.rate for f in feeds)
    report = {
        "feeds": args.feeds,
        "days": args.days,
        "warmup_days": args.warmup,
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
            "hot_factor": FEED_POLICY.hot_factor,
            "confidence": FEED_POLICY.confidence,
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
            f"{a['later_than_fixed_p95']:.2%} late"
        )
    from bench._setup import write_report

    print("wrote", write_report("adaptive", report))


if __name__ == "__main__":
    main()
