"""A fake ``POST /v1/audio/speech`` that sleeps like a real synthesiser, then answers audio.

It answers a short, valid-looking MP3 (an ID3 header and silent frames) whatever the input;
``sleep`` seconds per request model the synthesis time; requests are served on threads, so
it takes as many at once as clients send. ``GET /`` answers "ok" (health).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SILENT_MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413


class SpeechHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet: thousands of requests
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(200, b"ok", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?", 1)[0] != "/v1/audio/speech":
            self._reply(404, b'{"error": "not found"}', "application/json")
            return
        try:
            payload = json.loads(raw or b"{}")
            text = str(payload["input"])
        except (ValueError, KeyError, TypeError):
            self._reply(400, b'{"error": "input is required"}', "application/json")
            return
        server: SpeechServer = self.server  # type: ignore[assignment]
        time.sleep(server.sleep)
        with server.lock:
            server.served += 1
            server.characters += len(text)
        self._reply(200, SILENT_MP3, "audio/mpeg")


class SpeechServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, host: str, port: int, *, sleep: float) -> None:
        super().__init__((host, port), SpeechHandler)
        self.sleep = sleep
        self.lock = threading.Lock()
        self.served = 0
        self.characters = 0
