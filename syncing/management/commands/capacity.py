"""python manage.py capacity --kind calendars.feed --items 100000 --tier 15m
python manage.py capacity --kind calendars.feed --items 20000 --processes 2 --concurrency 1
python manage.py capacity --requests 2000 --per-machine 150
python manage.py capacity --kind calendars.feed --items 6000 --processes 2 --concurrency 1 \
    --since 2026-12-01T18:00:00Z --until 2026-12-01T18:05:00Z

Sized for the larger of the average and the kind's peak (alarms: the busiest ring window),
and says which figure it used. ``--processes``: what that many worker processes sustain
instead (syncs/s, and the time of a round of ``--items``). ``--requests``: web machines for
that many HTTP requests/s, from ``--per-machine`` (bench/api.py's figure). ``--since`` /
``--until`` (ISO times, or ``--since 30m`` for the last 30 minutes) choose the records it
learns from (default: the last 7 days); ``--at-load L`` scales the time the workers'
slots waited for a CPU from the load then to L (0: none), see syncing.monitoring.capacity.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from syncing.kinds import UnknownKind
from syncing.monitoring.capacity import (
    NotEnoughData,
    describe,
    describe_throughput,
    describe_web,
    estimate,
    parse_interval,
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
        parser.add_argument("--since", type=_moment, help="ISO time, or 30m/2h/1d ago")
        parser.add_argument("--until", type=_moment, help="ISO time, or 30m/2h/1d ago")
        parser.add_argument(
            "--at-load", type=float, help="scale the slots' wait for a CPU to this load (0: none)"
        )

    def handle(self, *args, kind, items, tier, concurrency, **options):
        if options["requests"] is not None:
            return self._web(options["requests"], options["per_machine"])
        if not kind or items is None:
            raise CommandError("--kind and --items are needed (or --requests for HTTP)")
        window = {k: options[k] for k in ("since", "until", "at_load")}
        try:
            if options["processes"]:
                result = throughput(
                    kind,
                    options["processes"],
                    concurrency=concurrency,
                    cores=options["cores"],
                    **window,
                )
                lines = describe_throughput(result, items)
            else:
                lines = describe(estimate(kind, items, tier, concurrency=concurrency, **window))
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


def _moment(text: str) -> datetime:
    """An ISO time (UTC if it has no offset), or a duration ago (30m, 2h, 1d)."""
    try:
        return timezone.now() - parse_interval(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO time or a duration: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
