"""python manage.py capacity --kind calendars.feed --items 100000 --tier 15m

Sized for the larger of the average and the kind's peak (alarms: the busiest ring window),
and says which figure it used.
"""

from django.core.management.base import BaseCommand, CommandError

from syncing.kinds import UnknownKind
from syncing.monitoring.capacity import NotEnoughData, describe, estimate


class Command(BaseCommand):
    help = "How many worker processes, broker messages/s and DB writes/s N items need."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True)
        parser.add_argument("--items", type=int, required=True)
        parser.add_argument(
            "--tier", default=None, help="a tier name of the kind, or 15m/6h (default: its own)"
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="syncs per worker process (default by queue)",
        )

    def handle(self, *args, kind, items, tier, concurrency, **options):
        try:
            result = estimate(kind, items, tier, concurrency=concurrency)
        except (UnknownKind, ValueError) as exc:
            raise CommandError(str(exc))
        except NotEnoughData as exc:
            self.stdout.write(f"Cannot tell yet: {exc}")
            return
        for line in describe(result):
            self.stdout.write(line)
