"""Syncbeat beside its bare peer in one run (issue 13, goal 1): the same feed farm, the same
feeds, each round run by bench/bare_pipeline.py's worker and then by Syncbeat's (dispatch,
Redis, one worker with ``--concurrency`` processes, PostgreSQL), so both see the same load.

    .venv/bin/python bench/bare_compare.py --feeds 1000 --events 100 --port 18601

Rounds: all new; ``--unchanged-rounds`` rounds of 304s; all changed (the farm advances every
feed once, both pipelines then import the same new versions). Each row gives feeds/s and the
worker processes' CPU per feed (from /proc: the more robust figure on a shared machine), and
the ratio Syncbeat / bare (rate) and bare / Syncbeat (CPU), and the CPU of every part of the
box per feed (PostgreSQL, Redis, this process with the farm, the workers: bench/proc_cpu.py)
with its ratio, bare / Syncbeat ("whole box"). Writes
bench/reports/bare_compare.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bare_pipeline as bare  # noqa: E402
from bench import feeds as ours  # noqa: E402
from bench._setup import purge, setup_django, start_workers, stop_workers, write_report  # noqa: E402
from bench.proc_cpu import cpu_by_part, per_item_ms  # noqa: E402


def _with_parts(run, worker_pids: set[int], items_key: str) -> dict:
    """``run()``'s row, with the CPU of every part of the box per feed (bench/proc_cpu.py):
    the rate is bounded by all of them, PostgreSQL's included, not the workers' alone."""
    before = cpu_by_part(worker_pids)
    row = run()
    row["box_cpu_ms_per_feed"] = per_item_ms(before, cpu_by_part(worker_pids), row[items_key])
    print(f"    CPU per feed by part (ms): {row['box_cpu_ms_per_feed']}", flush=True)
    return row


def _pair(label: str, bare_worker, our_workers, feeds: int, **round_options) -> dict:
    load = os.getloadavg()[0]
    b = _with_parts(
        lambda: bare.run_round(f"bare: {label}", bare_worker, feeds), {bare_worker.pid}, "feeds"
    )
    s = _with_parts(
        lambda: ours.run_round(f"syncbeat: {label}", our_workers, due=feeds, **round_options),
        {p.pid for p in our_workers},
        "feeds_synced",
    )
    row = {
        "round": label,
        "load_1m_before": round(load, 2),
        "bare": b,
        "syncbeat": s,
        "rate_ratio": round(s["feeds_per_s"] / b["feeds_per_s"], 2),
        "cpu_ratio": round(b["worker_cpu_ms_per_feed"] / s["worker_cpu_ms_per_feed"], 2),
        "box_cpu_ratio": round(
            b["box_cpu_ms_per_feed"]["total"] / s["box_cpu_ms_per_feed"]["total"], 2
        ),
    }
    print(
        f"  -> {label}: rate ratio {row['rate_ratio']}, CPU ratio (bare/ours) "
        f"{row['cpu_ratio']}, whole box {row['box_cpu_ratio']}, load {load:.1f}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2, help="processes of each worker")
    parser.add_argument("--unchanged-rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="feed farm port (0: any free)")
    parser.add_argument("--report", default="bare_compare")
    args = parser.parse_args()
    os.environ.update(ours.EXTRA_ENV)
    setup_django()
    import logging

    from config import celery_app

    celery_app.set_current()  # bare_pipeline made its own app current when imported

    logging.getLogger("celery").setLevel(logging.WARNING)
    from calendars.feedfarm.server import make_server
    from syncing.models import Tier

    ours.reset_tables()
    purge()
    Tier.objects.filter(kind=ours.KIND, name=ours.TIER).update(
        batch_limit=ours.BATCH_LIMIT, enabled=True
    )
    owner = ours.bench_owner()
    report: dict = {
        "machine": {"cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "config": vars(args)
        | {"command": " ".join([".venv/bin/python", "bench/bare_compare.py", *sys.argv[1:]])},
        "rounds": [],
    }
    server = make_server(args.port, args.feeds, events=args.events, cache_bytes=4 * 1024**3)
    thread = threading.Thread(target=server.serve_forever, name="feedfarm", daemon=True)
    thread.start()
    workers = []
    try:
        bare.create_tables(server.base_url, args.feeds)
        ours.create_feeds(owner, server.base_url, args.feeds)
        ours.warm_farm(server.farm, args.feeds)
        bare_worker = bare.start_worker(args.concurrency)
        workers.append(bare_worker)
        our_workers = start_workers(1, queues="io", concurrency=args.concurrency)
        workers.extend(our_workers)
        rounds = report["rounds"]
        rounds.append(_pair("all new", bare_worker, our_workers, args.feeds))
        for _ in range(args.unchanged_rounds):
            # Claimed as the product claims a tier's due feeds (one run, up to 2,000); the
            # peer publishes all its messages at once too.
            rounds.append(
                _pair(
                    "unchanged (all 304)",
                    bare_worker,
                    our_workers,
                    args.feeds,
                    batch_limit=ours.production_batch_limit(),
                )
            )
        server.farm.change_fraction = 1.0
        server.farm.advance()
        ours.warm_farm(server.farm, args.feeds)
        rounds.append(_pair("all changed", bare_worker, our_workers, args.feeds))
    finally:
        stop_workers(workers)
        purge()
        server.shutdown()
        server.server_close()
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    print(f"report: {write_report(args.report, report)}")


if __name__ == "__main__":
    main()
