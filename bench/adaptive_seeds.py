"""bench/adaptive.py over many seeds (populations): fetches saved and the p95 per plan.

    .venv/bin/python bench/adaptive_seeds.py --seeds 1-18          # the shipped policy
    .venv/bin/python bench/adaptive_seeds.py --seeds 1-12 --plans free pro \
        --policy late_targets=360:0.042,60:0.045                     # a trial
    .venv/bin/python bench/adaptive_seeds.py --seeds 1-6 -- --days 10 --warmup 3

One seed is one population of feeds and its changes; a policy is chosen on some seeds and
checked on others, not used to choose it. Runs one ``bench/adaptive.py`` per (plan, seed),
``--jobs`` at a time, and prints per plan the mean of the fetches saved (and its range), the
late share's range (changes seen later than the fixed schedule's p95) and on how many seeds
the adaptive p95 is the fixed one's or better; then every (plan, seed). Arguments after
``--`` go to bench/adaptive.py. Writes bench/reports/NAME.json (``--report``, default
adaptive_seeds) with every figure; the per-seed reports are not kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._setup import REPORTS, write_report  # noqa: E402

PLANS = ("free", "starter", "pro", "business", "realtime")


def seed_range(text: str) -> list[int]:
    """``1-18`` or ``1,4,9`` (or both: ``1-6,9``)."""
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def one(plan: str, seed: int, args) -> dict:
    name = f"_adaptive_seeds_{plan}_{seed}"
    command = [sys.executable, str(ROOT / "bench" / "adaptive.py"), "--seed", str(seed)]
    command += ["--plans", plan, "--report", name, *args.adaptive_args]
    if args.policy:
        command += ["--policy", *args.policy]
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    path = REPORTS / f"{name}.json"
    report = json.loads(path.read_text())
    path.unlink()
    row = report["plans"][plan]
    first = row.get("first_days")
    return {
        "plan": plan,
        "seed": seed,
        "fetches_saved": row["fetches_saved"],
        "late": row["adaptive"]["later_than_fixed_p95"],
        "p95_fixed": row["fixed"]["p95_minutes"],
        "p95_adaptive": row["adaptive"]["p95_minutes"],
        "p95_kept": row["adaptive"]["p95_minutes"] <= row["fixed"]["p95_minutes"],
        "first_days_saved": first["fetches_saved"] if first else None,
        "first_days_late": first["adaptive"]["later_than_fixed_p95"] if first else None,
        "first_days_p95_kept": (
            first["adaptive"]["p95_minutes"] <= first["fixed"]["p95_minutes"] if first else None
        ),
    }


def summary(rows: list[dict]) -> dict:
    saved = [r["fetches_saved"] for r in rows]
    late = [r["late"] for r in rows]
    first = [r for r in rows if r["first_days_saved"] is not None]
    return {
        "seeds": len(rows),
        "saved_mean": round(statistics.mean(saved), 4),
        "saved_min": min(saved),
        "saved_max": max(saved),
        "late_min": min(late),
        "late_max": max(late),
        "p95_kept": sum(r["p95_kept"] for r in rows),
        "first_days_saved_mean": (
            round(statistics.mean(r["first_days_saved"] for r in first), 4) if first else None
        ),
        "first_days_late_max": max((r["first_days_late"] for r in first), default=None),
        "first_days_p95_kept": sum(r["first_days_p95_kept"] for r in first) if first else None,
    }


def main() -> None:
    argv = sys.argv[1:]
    adaptive_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_range, default=seed_range("1-18"))
    parser.add_argument("--plans", nargs="*", default=list(PLANS), choices=PLANS)
    parser.add_argument("--policy", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report", default="adaptive_seeds")
    args = parser.parse_args(argv)
    args.adaptive_args = adaptive_args
    jobs = [(plan, seed) for plan in args.plans for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: one(*job, args), jobs))
    plans = {plan: summary([r for r in rows if r["plan"] == plan]) for plan in args.plans}
    for plan, s in plans.items():
        first = s["first_days_saved_mean"]
        print(
            f"{plan:<9} saved {s['saved_mean']:.1%} ({s['saved_min']:.1%}-{s['saved_max']:.1%}) "
            f"late {s['late_min']:.2%}-{s['late_max']:.2%} p95 kept {s['p95_kept']}/{s['seeds']}"
            + (
                f"; first days {first:.1%} saved, late up to {s['first_days_late_max']:.2%}, "
                f"p95 kept {s['first_days_p95_kept']}/{s['seeds']}"
                if first is not None
                else ""
            )
        )
    for r in rows:
        print(
            f"  {r['plan']:<9} seed {r['seed']:>2}: saved {r['fetches_saved']:.1%}, "
            f"late {r['late']:.2%}, p95 {r['p95_fixed']} vs {r['p95_adaptive']}"
        )
    report = {
        "command": " ".join(["bench/adaptive_seeds.py", *sys.argv[1:]]),
        "policy": args.policy,
        "adaptive_args": adaptive_args,
        "plans": plans,
        "runs": rows,
    }
    print("wrote", write_report(args.report, report))


if __name__ == "__main__":
    main()
