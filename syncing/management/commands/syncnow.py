import json

from django.core.management.base import BaseCommand, CommandError

from syncing.kinds import UnknownKind, get_kind
from syncing.serializers import SyncAttemptSerializer
from syncing.services.claims import claim_one
from syncing.services.runs import run_claimed


class Command(BaseCommand):
    help = "Run one item's sync inline (not through the broker) and print the attempt as JSON."

    def add_arguments(self, parser):
        parser.add_argument("kind", help="e.g. calendars.feed")
        parser.add_argument("pk", type=int)

    def handle(self, kind, pk, **options):
        try:
            kind_ = get_kind(kind)
        except UnknownKind as exc:
            raise CommandError(str(exc))
        if not kind_.model_class.objects.filter(pk=pk).exists():
            raise CommandError(f"{kind} #{pk} does not exist")
        claim = claim_one(kind_, pk, force=True)
        if not claim.pks:
            raise CommandError(f"{kind} #{pk} is leased by a running sync; try again shortly")
        report = run_claimed(kind, claim.token, claim.pks)
        if not report.attempts:
            raise CommandError(f"{kind} #{pk} did not run: {report}")
        data = SyncAttemptSerializer(report.attempts[0]).data
        self.stdout.write(json.dumps(data, indent=2, default=str))
