"""The one way out to the network.

    from syncing.fetcher import fetch
    result = fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified,
                   previous_hash=feed.content_hash)
    if result.not_modified: ...

What it does for every call:

- accepts http, https and webcal(s) (fetched as https); anything else is ``bad_url``;
- refuses hosts that resolve to private, loopback, link-local, CGNAT, metadata or
  IPv4-mapped addresses (requests-hardened resolves, checks and pins the connection to the
  checked address), and IPv6 forms embedding such an IPv4 address (IPv4-compatible and
  -translated, NAT64, 6to4: syncing.fetching.addresses), on the first request and on
  every redirect it follows itself (at most
  ``settings.FETCH_MAX_REDIRECTS``), unless ``settings.ALLOW_PRIVATE_URLS`` or
  ``allow_private=True``; ``allow_loopback=True`` lets 127.0.0.0/8 and ::1 through only;
- waits for the shared per-key rate limiter (syncing.ratelimit) before each request;
- sends ``If-None-Match`` / ``If-Modified-Since`` from the stored validators;
- streams the body with connect/read timeouts, a total deadline for the whole call
  (retries and rate-limit waits included) and a byte cap counted after decompression;
- retries transient failures (timeout, connection, 408, 429, 5xx) ``retries`` times with
  exponential backoff and full jitter, honouring ``Retry-After`` up to
  ``settings.FETCH_RETRY_MAX_WAIT``; a longer one is raised at once with ``retry_after``.

Errors are syncing.results SyncError subclasses: TransientFetchError / PermanentFetchError,
both also FetchError, with ``reason`` one of: timeout, deadline, connection, rate_limited,
http_429, http_5xx, http_404, http_410, http_4xx, http_3xx, too_large, blocked_address,
bad_url, too_many_redirects.

Logs carry scheme, host and path only: never query strings, credentials or headers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.cookies import RequestsCookieJar
from requests_hardened.ip_filter import InvalidIPAddress

from syncing.backoff import short_retry_delay
from syncing.fetching.body import read_body
from syncing.fetching.errors import FetchError, PermanentFetchError, TransientFetchError
from syncing.fetching.result import FetchResult
from syncing.fetching.sessions import release, send, session_for
from syncing.fetching.urls import host_key, normalize_url, parse_retry_after, safe_url
from syncing.ratelimit import RateLimitWait, get_limiter

logger = logging.getLogger(__name__)

__all__ = [
    "FetchError",
    "FetchResult",
    "PermanentFetchError",
    "TransientFetchError",
    "fetch",
    "normalize_url",
    "parse_retry_after",
    "safe_url",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that must not follow a redirect to another host.
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie")
# A 429 without Retry-After still slows every worker on that key this long.
DEFAULT_429_COOLDOWN = 1.0


# A feed's URL is the same at every fetch: its normal form and host are worked out once per
# process (both are pure functions of the URL; a refused URL raises every time, not cached).
_normalized = lru_cache(maxsize=4096)(normalize_url)
_host_of = lru_cache(maxsize=4096)(host_key)


@dataclass
class _Call:
    """What stays the same across the tries of one fetch."""

    url: str
    method: str
    headers: dict[str, str]
    params: Any
    json: Any
    data: Any
    max_bytes: int
    deadline_at: float
    rate_limit: str
    rate_key: str | None
    filter_ips: bool
    allow_loopback: bool
    etag: str | None
    last_modified: str | None
    previous_hash: str | None

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()


def fetch(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    params: Any = None,
    json: Any = None,
    data: Any = None,
    etag: str | None = None,
    last_modified: str | None = None,
    previous_hash: str | None = None,
    max_bytes: int | None = None,
    deadline: float | None = None,
    rate_limit: str | None = None,
    rate_key: str | None = None,
    retries: int | None = None,
    allow_private: bool | None = None,
    allow_loopback: bool = False,
) -> FetchResult:
    """Fetch ``url`` and return the whole response as a FetchResult.

    ``deadline`` is the total budget in seconds for the call, retries and rate-limit waits
    included (default settings.FETCH_DEADLINE). ``max_bytes`` caps the decompressed body
    (default settings.FETCH_MAX_BYTES). ``rate_limit`` ("50/second") and ``rate_key``
    (default: the host) choose the shared limiter. ``retries`` extra tries for transient
    failures (default settings.FETCH_RETRIES). ``allow_private`` lifts the address check
    (default settings.ALLOW_PRIVATE_URLS); ``allow_loopback`` lifts it for loopback only.

    Returns 2xx and 304 responses (``not_modified`` set on 304 or an unchanged body hash).
    Raises TransientFetchError or PermanentFetchError (see the module docstring for reasons).
    """
    target = _normalized(url) if isinstance(url, str) else normalize_url(url)
    if allow_private is None:
        allow_private = settings.ALLOW_PRIVATE_URLS
    budget = float(deadline if deadline is not None else settings.FETCH_DEADLINE)
    call = _Call(
        url=target,
        method=method.upper(),
        headers=dict(headers or {}),
        params=params,
        json=json,
        data=data,
        max_bytes=int(max_bytes if max_bytes is not None else settings.FETCH_MAX_BYTES),
        deadline_at=time.monotonic() + budget,
        rate_limit=rate_limit or settings.FETCH_HOST_RATE_LIMIT,
        rate_key=rate_key,
        filter_ips=not allow_private,
        allow_loopback=allow_loopback,
        etag=etag,
        last_modified=last_modified,
        previous_hash=previous_hash,
    )
    return _with_retries(call, retries)


def _with_retries(call: _Call, retries: int | None) -> FetchResult:
    """Try ``call``, again after a transient failure while retries and the deadline allow."""
    max_retries = settings.FETCH_RETRIES if retries is None else max(0, int(retries))
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            result = _fetch_once(call)
        except TransientFetchError as exc:
            exc.retries = attempt
            wait = _retry_wait(call, exc, attempt, max_retries)
            if wait is None:
                raise
            time.sleep(wait)
            attempt += 1
            continue
        except PermanentFetchError as exc:
            exc.retries = attempt
            raise
        result.retries = attempt
        result.elapsed = time.monotonic() - started
        if logger.isEnabledFor(logging.INFO):  # no URL formatting for a log nobody reads
            logger.info(
                "fetch %s %s -> %d%s, %d bytes in %.2fs, %d retries",
                call.method,
                safe_url(result.final_url),
                result.status,
                " (not modified)" if result.not_modified else "",
                result.bytes_read,
                result.elapsed,
                attempt,
            )
        return result


def _retry_wait(
    call: _Call, exc: TransientFetchError, attempt: int, max_retries: int
) -> float | None:
    """How long to wait before retrying after ``exc``, or None to raise it now: out of
    retries, a deadline or rate-limit wait, or a Retry-After longer than we hold a worker
    (the item is rescheduled instead) or than the time left."""
    if exc.reason in ("deadline", "rate_limited") or attempt >= max_retries:
        return None
    if exc.retry_after is not None and exc.retry_after > float(settings.FETCH_RETRY_MAX_WAIT):
        return None
    wait = exc.retry_after if exc.retry_after is not None else short_retry_delay(attempt)
    if wait >= call.remaining():
        return None
    logger.info(
        "fetch %s %s: %s, retry %d in %.2fs",
        call.method,
        safe_url(call.url),
        exc.reason,
        attempt + 1,
        wait,
    )
    return wait


def _fetch_once(call: _Call) -> FetchResult:
    """One try: follow redirects (each hop checked and rate limited), read the body."""
    url, method = call.url, call.method
    headers = _request_headers(call)
    body_kwargs: dict[str, Any] = {"json": call.json, "data": call.data}
    params = call.params
    redirects: list[str] = []
    cookies = RequestsCookieJar()  # set by this fetch's hops only, never kept across fetches
    while True:
        response = _send(call, method, url, headers, params, body_kwargs, cookies)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            break
        if response.cookies:
            cookies.update(response.cookies)
        release(response, budget=call.remaining())
        if len(redirects) >= settings.FETCH_MAX_REDIRECTS:
            raise PermanentFetchError(
                "too_many_redirects",
                f"{safe_url(call.url)}: more than {settings.FETCH_MAX_REDIRECTS} redirects",
                url=safe_url(call.url),
                http_status=response.status_code,
            )
        next_url = urljoin(response.url, location)
        try:
            next_url = normalize_url(next_url)
        except PermanentFetchError as exc:
            raise PermanentFetchError(
                "bad_url",
                f"{safe_url(url)} redirects to a URL we do not fetch: {exc.message}",
                url=safe_url(url),
                http_status=response.status_code,
            )
        if host_key(next_url) != host_key(url) or urlsplit(next_url).port != urlsplit(url).port:
            headers = {k: v for k, v in headers.items() if k.lower() not in SENSITIVE_HEADERS}
        status = response.status_code
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, body_kwargs = "GET", {"json": None, "data": None}
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        redirects.append(safe_url(next_url))
        url, params = next_url, None
    return _read_result(call, response, redirects)


def _request_headers(call: _Call) -> dict[str, str]:
    headers = dict(call.headers)
    lower = {k.lower() for k in headers}
    if call.etag and "if-none-match" not in lower:
        headers["If-None-Match"] = call.etag
    if call.last_modified and "if-modified-since" not in lower:
        headers["If-Modified-Since"] = call.last_modified
    return headers


def _send(
    call: _Call,
    method: str,
    url: str,
    headers: dict,
    params: Any,
    body_kwargs: dict,
    cookies: RequestsCookieJar,
) -> requests.Response:
    """Wait for the limiter, send one request (no redirects followed), map failures."""
    key = call.rate_key or _host_of(url)
    limiter = get_limiter()
    ticket = None
    try:
        if call.rate_key:
            # A quota of its own (a provider's API key) counts arrivals: the request is
            # tracked until its answer is back (syncing.ratelimit), one more round trip. Hosts'
            # politeness limits (feeds, the hot path) are paced without it.
            ticket = limiter.acquire_request(key, call.rate_limit, deadline_at=call.deadline_at)
        else:
            limiter.acquire(key, call.rate_limit, deadline_at=call.deadline_at)
    except RateLimitWait as wait:
        why = "cooling down after a 429" if wait.cooling_down else "rate limit reached"
        shown = safe_url(url)
        raise TransientFetchError(
            "rate_limited",
            f"{shown}: {why} for {key}, next slot in {wait.wait:.1f}s",
            url=shown,
            retry_after=round(wait.wait, 3),
        )
    try:
        return _request(call, method, url, headers, params, body_kwargs, cookies)
    finally:
        limiter.answered(key, call.rate_limit, ticket)


def _request(
    call: _Call,
    method: str,
    url: str,
    headers: dict,
    params: Any,
    body_kwargs: dict,
    cookies: RequestsCookieJar,
) -> requests.Response:
    """Send one request within the call's deadline; failures mapped to the fetcher's errors."""
    remaining = call.remaining()
    if remaining <= 0:
        shown = safe_url(url)
        raise TransientFetchError("deadline", f"{shown}: deadline passed", url=shown)
    timeout = (
        min(settings.FETCH_CONNECT_TIMEOUT, remaining),
        min(settings.FETCH_READ_TIMEOUT, remaining),
    )
    session = session_for(filter_ips=call.filter_ips, allow_loopback=call.allow_loopback)
    options = {"headers": headers, "params": params, "timeout": timeout, "cookies": cookies}
    try:
        response = send(session, method, url, **options, **body_kwargs)
    except InvalidIPAddress:
        shown = safe_url(url)
        raise PermanentFetchError(
            "blocked_address",
            f"{shown}: the fetcher refuses private addresses (the host resolves to a private, "
            "loopback, link-local or reserved address)",
            url=shown,
        )
    except requests.Timeout:
        shown = safe_url(url)
        reason = "deadline" if call.remaining() <= 0.05 else "timeout"
        raise TransientFetchError(reason, f"{shown}: timed out waiting for the server", url=shown)
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
    ) as exc:
        shown = safe_url(url)
        raise PermanentFetchError("bad_url", f"{shown}: {type(exc).__name__}", url=shown)
    except requests.exceptions.InvalidJSONError:
        raise  # the caller's json= cannot be serialized: a bug, not a network failure
    except requests.exceptions.SSLError:
        shown = safe_url(url)
        raise TransientFetchError("connection", f"{shown}: TLS handshake failed", url=shown)
    except requests.RequestException as exc:
        # str(exc) would carry the full URL (query string included): name the class only.
        shown = safe_url(url)
        raise TransientFetchError(
            "connection", f"{shown}: cannot connect ({type(exc).__name__})", url=shown
        )
    return response


def _read_result(call: _Call, response: requests.Response, redirects: list[str]) -> FetchResult:
    """Check the status, read the body within the cap and deadline, build the result."""
    status = response.status_code
    lowered = {k.lower(): v for k, v in response.headers.items()}
    drain = True  # a body we never started reading may be drained to keep the socket
    try:
        if status == 304:
            return FetchResult(
                status=304,
                headers=lowered,
                body=b"",
                final_url=response.url,
                etag=lowered.get("etag") or call.etag,
                last_modified=lowered.get("last-modified") or call.last_modified,
                content_hash=call.previous_hash,
                not_modified=True,
                redirects=redirects,
            )
        if not 200 <= status < 300:
            raise _status_error(call, response.url, status, lowered)
        drain = False  # read_body reads to the end; if it stops early, drop the socket
        shown = safe_url(response.url)
        body = read_body(
            response, max_bytes=call.max_bytes, deadline_at=call.deadline_at, shown=shown
        )
    finally:
        release(response, budget=call.remaining() if drain else 0.0)
    digest = hashlib.sha256(body).hexdigest()
    return FetchResult(
        status=status,
        headers=lowered,
        body=body,
        final_url=response.url,
        etag=lowered.get("etag"),
        last_modified=lowered.get("last-modified"),
        content_hash=digest,
        not_modified=bool(call.previous_hash) and digest == call.previous_hash,
        bytes_read=len(body),
        redirects=redirects,
    )


def _status_error(call: _Call, url: str, status: int, headers: dict[str, str]) -> FetchError:
    """The error for a non-2xx answer from ``url``; a 429 (or a 503 with Retry-After) also
    starts the shared cooldown for the key."""
    shown = safe_url(url)
    retry_after = parse_retry_after(headers.get("retry-after"))
    key = call.rate_key or host_key(url)
    if status == 429 or (status == 503 and retry_after is not None):
        cooldown = retry_after if retry_after is not None else DEFAULT_429_COOLDOWN
        get_limiter().cool_down(key, cooldown)
    if status == 429:
        return TransientFetchError(
            "http_429",
            f"{shown}: too many requests (HTTP 429)",
            url=shown,
            http_status=status,
            retry_after=retry_after,
        )
    if status == 408:
        return TransientFetchError(
            "timeout",
            f"{shown}: request timeout (HTTP 408)",
            url=shown,
            http_status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        return TransientFetchError(
            "http_5xx",
            f"{shown}: server error (HTTP {status})",
            url=shown,
            http_status=status,
            retry_after=retry_after,
        )
    if status in (404, 410):
        text = "not found" if status == 404 else "gone"
        return PermanentFetchError(
            f"http_{status}", f"{shown}: {text} (HTTP {status})", url=shown, http_status=status
        )
    if 300 <= status < 400:
        return PermanentFetchError(
            "http_3xx", f"{shown}: unexpected HTTP {status}", url=shown, http_status=status
        )
    return PermanentFetchError(
        "http_4xx", f"{shown}: refused (HTTP {status})", url=shown, http_status=status
    )
