"""python manage.py capacity --kind calendars.feed --items 100000 --tier 15m
python manage.py capacity --kind calendars.feed --items 20000 --processes 2 --concurrency 1
python manage.py capacity --requests 2000 --per-machine 150

Sized for the larger of the average and the kind's peak (alarms: the busiest ring window),
and says which figure it used. ``--processes``: what that many worker processes sustain
instead (syncs/s, and the time of a round of ``--items``). ``--requests``: web machines for
that many HTTP requests/s, from ``--per-machine`` (bench/api.py's figure).
"""

from django.core.management.base import BaseCommand, CommandError

from syncing.kinds import UnknownKind
from syncing.monitoring.capacity import (
    NotEnoughData,
    describe,
    describe_throughput,
    describe_web,
    estimate,
    throughput,
    web_estimate,
)


class Command(BaseCommand):
    help = "How many worker processes, broker messages/s and DB writes/s N items need."

    def add_arguments(self, parser):
        parser.add_argument("--kind")
        parser.add_argument("--items", type=int)
        parser.add_argument(
            "--tier", default=None, help="a tier name of the kind, or 15m/6h (default: its own)"
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="syncs per worker process (default by queue)",
        )
        parser.add_argument(
            "--processes", type=int, help="predict what this many worker processes sustain"
        )
        parser.add_argument("--cores", type=int, help="cores they share (default: one each)")
        parser.add_argument("--requests", type=float, help="HTTP requests/s to serve")
        parser.add_argument(
            "--per-machine", type=float, help="requests/s one web machine serves (bench/api.py)"
        )

    def handle(self, *args, kind, items, tier, concurrency, **options):
        if options["requests"] is not None:
            return self._web(options["requests"], options["per_machine"])
        if not kind or items is None:
            raise CommandError("--kind and --items are needed (or --requests for HTTP)")
        try:
            if options["processes"]:
                result = throughput(
                    kind, options["processes"], concurrency=concurrency, cores=options["cores"]
                )
                lines = describe_throughput(result, items)
            else:
                lines = describe(estimate(kind, items, tier, concurrency=concurrency))
        except (UnknownKind, ValueError) as exc:
            raise CommandError(str(exc))
        except NotEnoughData as exc:
            self.stdout.write(f"Cannot tell yet: {exc}")
            return
        for line in lines:
            self.stdout.write(line)

    def _web(self, requests: float, per_machine: float | None) -> None:
        if per_machine is None:
            raise CommandError("--requests needs --per-machine (measure it with bench/api.py)")
        try:
            result = web_estimate(requests, per_machine)
        except ValueError as exc:
            raise CommandError(str(exc))
        for line in describe_web(result):
            self.stdout.write(line)
