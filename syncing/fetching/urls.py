"""Which URLs the fetcher accepts, how they may be shown, and reading Retry-After."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from syncing.fetching.errors import PermanentFetchError


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path``: what may be logged or shown (no query, no userinfo)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def normalize_url(url: str) -> str:
    """The URL to request: webcal(s) becomes https; raises PermanentFetchError(bad_url)."""
    if not isinstance(url, str) or not url.strip():
        raise PermanentFetchError("bad_url", "empty URL")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise PermanentFetchError("bad_url", f"not a valid URL: {safe_url(url)}", url=safe_url(url))
    scheme = parts.scheme.lower()
    if scheme in ("webcal", "webcals"):
        parts = parts._replace(scheme="https")
    elif scheme in ("http", "https"):
        parts = parts._replace(scheme=scheme)
    else:
        raise PermanentFetchError(
            "bad_url", f"only http, https and webcal URLs are fetched, not {scheme or 'none'!r}"
        )
    if not parts.hostname:
        raise PermanentFetchError("bad_url", "the URL has no host")
    return urlunsplit(parts)


def host_key(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
