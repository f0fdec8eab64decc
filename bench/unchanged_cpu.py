"""Worker CPU per unchanged feed on the worker's own code path, without Celery (issue 13,
goal 1): rounds of 304s through ``run_claimed`` in chunks of the kind's ``cheap_chunk_size``
(what dispatch sends feeds that are likely 304s; else its ``chunk_size``).

    .venv/bin/python bench/unchanged_cpu.py --feeds 300 --rounds 6
    .venv/bin/python bench/unchanged_cpu.py --feeds 300 --rounds 6 --chunk 10

The feed farm runs in a thread of this process; only the CPU of the thread that runs the
chunks is counted (``time.thread_time``), so the farm's share is left out. The first round
imports every feed; each later round makes all of them due, claims them and runs them (every
fetch a 304). Prints each round's CPU per feed and the median. For before/after figures run
it from two checkouts, interleaved, minutes apart. Uses the bench database (bench/_setup.py)
and its own tables' rows (bench/feeds.py's); not run by CI.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import feeds as ours  # noqa: E402
from bench._setup import setup_django  # noqa: E402


def one_round(kind, feeds: int, chunk: int) -> tuple[float, dict]:
    """Make every feed due, claim them, run them in chunks; CPU ms per feed and outcomes."""
    from django.utils import timezone

    from calendars.models import Feed
    from syncing.services.claims import claim_due_items
    from syncing.services.runs import run_claimed

    Feed.objects.update(next_sync_at=timezone.now() - timezone.timedelta(seconds=1))
    claim = claim_due_items(kind, ours.TIER, feeds)
    pks = list(claim.pks)
    cpu, outcomes = 0.0, {}
    for start in range(0, len(pks), chunk):
        before = time.thread_time()
        report = run_claimed(ours.KIND, claim.token, pks[start : start + chunk])
        cpu += time.thread_time() - before
        for attempt in report.attempts:
            outcomes[attempt.outcome] = outcomes.get(attempt.outcome, 0) + 1
    return cpu * 1000 / max(len(pks), 1), outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--chunk", type=int, default=0, help="feeds a chunk (0: the kind's for cheap items)"
    )
    args = parser.parse_args()
    os.environ.update(ours.EXTRA_ENV)
    setup_django()
    import logging

    logging.disable(logging.WARNING)
    import calendars.services.feed_sync  # noqa: F401 - loaded before the first round
    from calendars.feedfarm.server import serving
    from syncing.kinds import get_kind
    from syncing.models import Tier

    kind = get_kind(ours.KIND)
    chunk = args.chunk or kind.cheap_chunk_size or kind.chunk_size
    ours.reset_tables()
    Tier.objects.filter(kind=ours.KIND, name=ours.TIER).update(batch_limit=100_000, enabled=True)
    with serving(args.feeds, events=args.events) as farm:
        ours.create_feeds(ours.bench_owner(), farm.base_url, args.feeds)
        ours.warm_farm(farm.farm, args.feeds)
        print(f"first round (new): {one_round(kind, args.feeds, chunk)[0]:.2f} ms/feed")
        figures = []
        for n in range(args.rounds):
            ms, outcomes = one_round(kind, args.feeds, chunk)
            figures.append(ms)
            load = os.getloadavg()[0]
            print(f"round {n + 1}: {ms:.3f} ms CPU per feed {outcomes} load {load:.1f}")
    print(f"chunk {chunk}: median {statistics.median(figures):.3f} min {min(figures):.3f} ms")


if __name__ == "__main__":
    main()
