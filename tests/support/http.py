"""Local HTTP servers on 127.0.0.1 for tests: the outside world, played by us.

    with local_server(routes) as base_url: ...

``routes`` maps a path to a callable(request) -> Reply, or to a Reply; every request seen
is recorded on ``server.requests`` (method, path, headers, body).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from syncing.serving import serving


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Send the body in pieces with a pause between them (a server that drips).
    drip_chunk: int = 0
    drip_pause: float = 0.0
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server: LocalServer = self.server  # type: ignore[assignment]
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        server.requests.append(seen)
        path = self.path.split("?", 1)[0]
        route = server.routes.get(self.path) or server.routes.get(path) or server.routes.get("*")
        if route is None:
            reply = Reply(404, b"not found")
        else:
            reply = route(seen) if callable(route) else route
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            headers = {"Content-Length": str(len(reply.body)), **reply.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            if reply.drip_chunk:
                for start in range(0, len(reply.body), reply.drip_chunk):
                    self.wfile.write(reply.body[start : start + reply.drip_chunk])
                    self.wfile.flush()
                    time.sleep(reply.drip_pause)
            else:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Reply | Callable[[Seen], Reply]]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.requests: list[Seen] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def local_server(routes: dict) -> Iterator[LocalServer]:
    with serving(LocalServer(routes)) as server:
        yield server
