"""Serve the market-data provider simulator on 127.0.0.1 until interrupted."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from market.marketsim import MarketSimServer


class Command(BaseCommand):
    help = "Run the market-data provider simulator (StockX-like v2 and generic JSON) locally."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8300)
        parser.add_argument("--rate-limit", type=int, default=50, help="requests/s per API key")
        parser.add_argument("--latency-ms", type=int, default=50)
        parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 500")
        parser.add_argument("--products", type=int, default=100)
        parser.add_argument(
            "--bucket-seconds", type=float, default=60.0, help="how often prices move"
        )

    def handle(self, *args, **options):
        server = MarketSimServer(
            options["port"],
            rate_limit=options["rate_limit"],
            latency_ms=options["latency_ms"],
            error_rate=options["error_rate"],
            products=options["products"],
            bucket_seconds=options["bucket_seconds"],
        )
        self.stdout.write(
            f"marketsim on {server.url} (rate limit {options['rate_limit']}/s per key, "
            f"latency {options['latency_ms']} ms, error rate {options['error_rate']})"
        )
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
