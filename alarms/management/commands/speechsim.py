"""``manage.py speechsim --port 8400 --sleep 1.0``: run the fake speech API (see
alarms.speechsim). Point SPEECH_API_BASE_URL at it (and allow private URLs)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from alarms.speechsim.server import SpeechServer


class Command(BaseCommand):
    help = "Serve a fake OpenAI-compatible speech API that takes --sleep seconds per request."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8400)
        parser.add_argument(
            "--sleep", type=float, default=1.0, help="seconds each synthesis takes (default 1.0)"
        )

    def handle(self, *args, host: str, port: int, sleep: float, **options) -> None:
        server = SpeechServer(host, port, sleep=sleep)
        self.stdout.write(f"speechsim on http://{host}:{port}/v1/audio/speech, {sleep}s each")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            self.stdout.write(f"speechsim served {server.served} request(s)")
