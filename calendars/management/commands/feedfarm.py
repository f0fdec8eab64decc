"""Serve synthetic Airbnb/VRBO/Booking.com/Google feeds on 127.0.0.1 (demo, tests, bench).

python manage.py feedfarm --port 8200 --feeds 10000 --events 100 --change-fraction 0.1
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from calendars.feedfarm.server import LOCAL_HOSTS, make_server


class Command(BaseCommand):
    help = "Serve N synthetic channel feeds at http://127.0.0.1:PORT/feeds/<id>.ics"

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8200)
        parser.add_argument("--feeds", type=int, default=100)
        parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1 only")
        parser.add_argument("--events", type=int, default=100, help="VEVENTs per feed")
        parser.add_argument(
            "--change-fraction", type=float, default=0.1, help="feeds changing per round"
        )
        parser.add_argument(
            "--change-every",
            type=float,
            default=None,
            help="seconds per round (default: rounds advance only on POST /control/advance)",
        )
        parser.add_argument("--cache-mb", type=int, default=64, help="body cache bound")
        parser.add_argument("--verbose", action="store_true", help="log every request")

    def handle(self, *args, **options):
        if options["host"] not in LOCAL_HOSTS:
            raise CommandError(f"the feed farm only listens on 127.0.0.1, not {options['host']}")
        try:
            server = make_server(
                options["port"],
                options["feeds"],
                events=options["events"],
                change_fraction=options["change_fraction"],
                change_every=options["change_every"],
                cache_bytes=options["cache_mb"] * 1024 * 1024,
                verbose=options["verbose"],
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        farm = server.farm
        rounds = f"every {farm.change_every:g}s" if farm.change_every else "POST /control/advance"
        self.stdout.write(
            f"Feed farm: {farm.feeds} feeds at {server.base_url}/feeds/<1..{farm.feeds}>.ics "
            f"({farm.events} events, {farm.changing_per_round} changing per round"
            f", {rounds}); faults: ?fault=slow|500|503|429|404|410|truncated|reset|html|empty"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
