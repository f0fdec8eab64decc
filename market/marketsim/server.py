"""The provider simulator: StockX-like v2 and generic JSON shapes on 127.0.0.1.

Paths (``{key}`` is the product id: for StockX the UUID from ``product_uuid(sku)`` or the
SKU itself; for generic JSON the SKU):

- ``GET /stockx/v2/catalog/search?query=SKU``
- ``GET /stockx/v2/catalog/products/{key}``
- ``GET /stockx/v2/catalog/products/{key}/variants``
- ``GET /stockx/v2/catalog/products/{key}/market-data?currencyCode=USD&country=US``
- ``GET /generic/prices/{key}?region=US``
- ``GET /__stats`` (requests, 429s and errors sent, per API key), ``POST /__reset``

Every provider path needs an ``x-api-key`` header (401 without); each key is limited to
``rate_limit`` requests per second over a sliding one-second window (429 with Retry-After
past it). ``latency_ms`` delays every answer; ``error_rate`` answers that share with 500.
Tests steer it through attributes: ``fail_prefixes`` (paths that answer 500),
``throttle_prefixes`` (paths that answer 429 with a given Retry-After), ``overrides`` (key ->
fixed amounts), ``missing`` (keys that 404), ``numbers`` (amounts as JSON numbers instead of
strings), ``bucket_seconds`` (how often prices move).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict, deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from market.marketsim.prices import (
    COUNTRY_REGION,
    REGIONS,
    base_price,
    product_uuid,
    quote,
    sizes_for,
    variant_uuid,
)


class _DecimalEncoder(json.JSONEncoder):
    def __init__(self, *args, numbers: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.numbers = numbers

    def default(self, o):
        if isinstance(o, Decimal):
            return float(o) if self.numbers else f"{o:.2f}"
        return super().default(o)


class MarketSimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        port: int = 0,
        *,
        rate_limit: int = 50,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        products: int = 100,
        bucket_seconds: float = 60.0,
        seed: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.rate_limit = rate_limit
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.products = products
        self.bucket_seconds = bucket_seconds
        self.random = random.Random(seed)
        self.fail_prefixes: set[str] = set()
        self.overrides: dict[str, dict[str, object]] = {}
        self.missing: set[str] = set()
        self.throttle_prefixes: dict[str, float] = {}  # path prefix -> Retry-After seconds
        self.numbers = False
        self.lock = threading.Lock()
        self.reset()

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that went away (a timeout, a test ending) is no news
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self.lock:
            self.windows: dict[str, deque] = defaultdict(deque)
            self.requests: Counter = Counter()
            self.rate_limited: Counter = Counter()
            self.errors: Counter = Counter()
            self.served: Counter = Counter()
            self.started = time.monotonic()
            self.log: list[tuple[float, str, str, int]] = []  # (t, key, path, status)

    def stats(self) -> dict:
        with self.lock:
            return {
                "uptime": round(time.monotonic() - self.started, 3),
                "rate_limit": self.rate_limit,
                "requests": dict(self.requests),
                "served": dict(self.served),
                "rate_limited": dict(self.rate_limited),
                "errors": dict(self.errors),
                "total_requests": sum(self.requests.values()),
                "total_rate_limited": sum(self.rate_limited.values()),
            }

    def admit(self, key: str) -> float | None:
        """Count a request for ``key``; None if admitted, else seconds until a free slot."""
        now = time.monotonic()
        with self.lock:
            self.requests[key] += 1
            window = self.windows[key]
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.rate_limit:
                self.rate_limited[key] += 1
                return max(0.05, 1.0 - (now - window[0]))
            window.append(now)
            return None

    def bucket(self) -> int:
        return int(time.time() // self.bucket_seconds)

    def prices(self, key: str, region: str) -> list[tuple[str, dict]]:
        bucket = self.bucket()
        rows = []
        override = self.overrides.get(key, {})
        for size in sizes_for(key):
            q = quote(key, region, size, bucket)
            for name, value in override.items():
                q[name] = Decimal(str(value)) if name != "sales_72h" else value
            rows.append((size, q))
        return rows


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MarketSimServer

    def log_message(self, format, *args):  # quiet
        pass

    def do_POST(self) -> None:
        if self.path == "/__reset":
            self.server.reset()
            return self._send(200, {"ok": True})
        return self._send(404, {"errorMessage": "not found"})

    def do_GET(self) -> None:
        sim = self.server
        parts = urlsplit(self.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if path == "/__stats":
            return self._send(200, sim.stats())
        key = self.headers.get("x-api-key", "")
        if not key:
            return self._send(401, {"errorMessage": "missing x-api-key"})
        wait = sim.admit(key)
        if wait is not None:
            return self._send(
                429, {"errorMessage": "Too Many Requests"}, {"Retry-After": f"{wait:.2f}"}, key
            )
        for prefix, seconds in sim.throttle_prefixes.items():
            if path.startswith(prefix):
                with sim.lock:
                    sim.rate_limited[key] += 1
                return self._send(
                    429, {"errorMessage": "slow down"}, {"Retry-After": f"{seconds:g}"}, key
                )
        if sim.latency_ms:
            time.sleep(sim.latency_ms / 1000)
        if any(path.startswith(p) for p in sim.fail_prefixes) or (
            sim.error_rate and sim.random.random() < sim.error_rate
        ):
            with sim.lock:
                sim.errors[key] += 1
            return self._send(500, {"errorMessage": "simulated outage"}, key=key)
        try:
            status, body = self._route(path, query)
        except KeyError as exc:
            status, body = 400, {"errorMessage": f"bad parameter {exc}"}
        with sim.lock:
            sim.served[key] += 1
        return self._send(status, body, key=key)

    def _route(self, path: str, q: dict) -> tuple[int, object]:
        sim = self.server
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if segments[:2] == ["generic", "prices"] and len(segments) == 3:
            key = segments[2]
            if key in sim.missing:
                return 404, {"error": "unknown product"}
            region = q["region"].upper()
            if region not in REGIONS:
                return 400, {"error": "unknown region"}
            rows = [
                {"size": size, **{k: v for k, v in p.items() if k != "currency"}}
                for size, p in sim.prices(key, region)
            ]
            return 200, {"currency": REGIONS[region], "prices": rows}
        if segments[:3] == ["stockx", "v2", "catalog"]:
            rest = segments[3:]
            if rest == ["search"]:
                return 200, self._search(q.get("query", ""))
            if len(rest) >= 2 and rest[0] == "products":
                key = rest[1]
                if key in sim.missing:
                    return 404, {"errorMessage": "Product not found"}
                if len(rest) == 2:
                    return 200, self._product(key, key)
                if rest[2:] == ["variants"]:
                    return 200, [
                        {
                            "productId": key,
                            "variantId": variant_uuid(key, size),
                            "variantName": f"{key}:{size}",
                            "variantValue": size,
                        }
                        for size in sizes_for(key)
                    ]
                if rest[2:] == ["market-data"]:
                    currency = q.get("currencyCode", "USD").upper()
                    region = COUNTRY_REGION.get(q.get("country", "US").upper(), "US")
                    if REGIONS[region] != currency:
                        region = next((r for r, c in REGIONS.items() if c == currency), region)
                    return 200, [
                        {
                            "productId": key,
                            "variantId": variant_uuid(key, size),
                            "currencyCode": p["currency"],
                            "lowestAskAmount": p["lowest_ask"],
                            "highestBidAmount": p["highest_bid"],
                            "sellFasterAmount": p["lowest_ask"] - Decimal("1.00"),
                            "earnMoreAmount": p["lowest_ask"] + Decimal("5.00"),
                            "flexLowestAskAmount": p["lowest_ask"],
                        }
                        for size, p in sim.prices(key, region)
                    ]
        return 404, {"errorMessage": "not found"}

    def _product(self, key: str, sku: str) -> dict:
        return {
            "productId": key,
            "urlKey": sku.lower(),
            "styleId": sku,
            "productType": "sneakers",
            "title": f"Simulated {sku}",
            "brand": "Simulated",
            "productAttributes": {"colorway": "Black/White", "retailPrice": base_price(key)},
        }

    def _search(self, query: str) -> dict:
        sku = query.strip().upper()
        products = (
            []
            if not sku or product_uuid(sku) in self.server.missing
            else [self._product(product_uuid(sku), sku)]
        )
        return {
            "count": len(products),
            "pageSize": 10,
            "pageNumber": 1,
            "hasNextPage": False,
            "products": products,
        }

    def _send(self, status: int, body: object, headers: dict | None = None, key: str = "") -> None:
        payload = json.dumps(body, cls=_DecimalEncoder, numbers=self.server.numbers).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
