"""Pooled requests sessions, one per thread, process and address policy, and ``send``:
one request through a session's guarded adapter without requests' Session machinery."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

import requests
from django.conf import settings
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from requests_hardened import Config

from syncing.fetching.addresses import guarded_session

_local = threading.local()


def session_for(*, filter_ips: bool, allow_loopback: bool) -> requests.Session:
    """A pooled session for this thread and process, one per address policy."""
    sessions = getattr(_local, "sessions", None)
    if sessions is None or getattr(_local, "pid", None) != os.getpid():
        sessions = _local.sessions = {}  # after a fork, never share the parent's sockets
        _local.pid = os.getpid()
    key = (filter_ips, allow_loopback)
    session = sessions.get(key)
    if session is None:
        session = guarded_session(
            Config(
                ip_filter_enable=filter_ips,
                ip_filter_allow_loopback_ips=allow_loopback,
                never_redirect=True,  # we follow redirects ourselves, checking each hop
                default_timeout=(settings.FETCH_CONNECT_TIMEOUT, settings.FETCH_READ_TIMEOUT),
                user_agent_override=None,
            )
        )
        # No proxies or .netrc from the environment: a proxy would defeat the address
        # check, and .netrc would attach credentials to user-supplied hosts.
        session.trust_env = False
        session.headers["User-Agent"] = settings.FETCH_USER_AGENT
        sessions[key] = session
    return session


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    params: Any,
    timeout: tuple[float, float],
    cookies: RequestsCookieJar | None = None,
    json: Any = None,
    data: Any = None,
) -> requests.Response:
    """Send one request (streamed, no redirect followed) through ``session``'s adapter.

    What ``session.request`` would send, minus what the fetcher never wants and what cost
    about a third of the CPU of a 304: no environment (the session's ``trust_env`` is off
    anyway: no proxies, no .netrc), no hooks, and no session cookie jar, so a cookie one
    feed's server set is never sent with another owner's feed of that host (``cookies``
    carries the ones set earlier in the same fetch, across its redirects). The session's
    headers (User-Agent, Accept-Encoding) come first; a header given as None is dropped.
    The adapter is the guarded one (syncing.fetching.addresses), so the host is resolved,
    checked and pinned exactly as before; credentials in the URL still become Basic auth.
    """
    merged = CaseInsensitiveDict(session.headers)
    for name, value in headers.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    prepared = requests.PreparedRequest()
    prepared.prepare_method(method)
    if params:
        prepared.prepare_url(url, params)
    else:
        prepared.url = _prepared_url(url)
    prepared.prepare_headers(merged)
    if cookies:
        prepared.prepare_cookies(cookies)
    prepared.prepare_body(data, None, json)
    if "@" in prepared.url:  # only a URL with credentials has any auth to prepare
        prepared.prepare_auth(None, url)
    return session.get_adapter(url).send(
        prepared, stream=True, timeout=timeout, verify=session.verify, cert=session.cert, proxies={}
    )


@lru_cache(maxsize=4096)
def _prepared_url(url: str) -> str:
    """requests' ``prepare_url`` of ``url`` without parameters (a pure function of the URL:
    a feed's URL is prepared once per process, not for every fetch); it raises as
    ``prepare_url`` does for a URL requests refuses (not cached)."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url


# Left-over bodies up to this size are read to the end so the socket goes back to the pool;
# a larger (or unbounded) one is cheaper to drop than to download.
DRAIN_LIMIT = 64 * 1024
# Never wait longer than this for the rest of a body we are about to throw away.
DRAIN_TIMEOUT = 1.0


def release(response: requests.Response, *, budget: float = 0.0) -> None:
    """Close ``response``; first read a small unread body (within ``budget`` seconds, at most
    DRAIN_TIMEOUT) so its connection goes back to the pool instead of being closed.

    ``Response.close()`` on a body nobody read (a 304, a redirect, an error page) closes the
    socket, so the next fetch of that host paid a new TCP (and TLS) handshake. The pool is
    the session's, keyed by the pinned, checked address: a later request still resolves and
    checks its address before it is handed a pooled connection. ``budget`` 0 (the default)
    just closes: the caller passes one only for a body it has not started reading.
    """
    raw = response.raw
    declared = response.headers.get("content-length", "")
    bodiless = response.status_code in (204, 304) or response.request.method == "HEAD"
    small = bodiless or (declared.isdigit() and int(declared) <= DRAIN_LIMIT)
    if raw is not None and small and budget > 0:
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(min(budget, DRAIN_TIMEOUT))
        raw.drain_conn()  # swallows socket errors; releases the connection at a clean end
    response.close()
