"""Sentry without secrets: ``init_sentry`` (called by settings when SENTRY_DSN is set) and
the ``scrub_event`` hook it installs as ``before_send`` and ``before_send_transaction``.

Every event is walked whole (request, headers, cookies, query strings, exception values,
stack-frame variables, breadcrumbs, extra, contexts, tags) and:

- the value of any header or nested key that looks secret (Authorization, Cookie,
  X-Api-Key, ``token``, ``secret``, ``password``, ``*_key``, ``dsn``, ``signature``, ...) is
  replaced by ``[Filtered]``;
- in every string, secret query parameters of URLs (``?token=...&key=...&sig=...``),
  passwords of connection strings (``postgres://user:pass@``, ``redis://:pass@``) and
  ``Bearer``/``Basic`` credentials are replaced by ``[Filtered]``, the rest is kept (the
  host and path are what one needs to debug).

Pure Python, no Django import: settings can import it.
"""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"
# Key names (headers, dict keys, variables, query parameters) whose values are secret.
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?$|^pwd$|secret|token|api[-_]?key|apikey|private[-_]?key|"
    r"(^|[-_])key$|^key[-_]|access[-_]?key|dsn$|^auth|authorization|cookie|session|csrf|"
    r"credential|signature|^sig$|^x[-_]amz[-_]|client[-_]?secret|"
    # One-letter secrets of calendar export links (Airbnb's ``?s=``, others' ``?k=``/``?t=``).
    r"^[skt]$",
    re.IGNORECASE,
)
# scheme://user:password@  and  scheme://:password@
_USERINFO = re.compile(
    r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?=@)", re.I
)
# name=value in a query string or a form body; the name decides.
_PARAM = re.compile(
    r"(?P<head>(?:^|[?&;\s])(?P<name>[A-Za-z0-9_.\-\[\]]+)=)(?P<value>[^&#\s;\"']*)"
)
# A query value that looks like a random token is filtered whatever its name.
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-]{24,}$")
_AUTH_SCHEME = re.compile(
    r"\b(?P<head>(?:Bearer|Basic|Token|Digest)\s+)[A-Za-z0-9._~+/=\-]{6,}", re.I
)
MAX_DEPTH = 30


def is_secret_name(name: object) -> bool:
    return isinstance(name, str) and bool(SECRET_NAME.search(name.strip()))


def scrub_text(text: str) -> str:
    """``text`` with URL secrets, connection-string passwords and credentials filtered."""
    if not text or not isinstance(text, str):
        return text
    text = _USERINFO.sub(lambda m: m.group("head") + FILTERED, text)
    text = _PARAM.sub(
        lambda m: (
            m.group("head") + FILTERED
            if m.group("value")
            and (is_secret_name(m.group("name")) or _TOKEN_LIKE.match(m.group("value")))
            else m.group(0)
        ),
        text,
    )
    return _AUTH_SCHEME.sub(lambda m: m.group("head") + FILTERED, text)


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (dicts, lists, tuples, strings) with secrets filtered."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED
            if is_secret_name(key) and value[key] not in (None, "", [], {})
            else scrub(value[key], depth + 1)
            for key in value
        }
    if isinstance(value, (list, tuple)):
        # Header lists come as [name, value] pairs.
        if len(value) == 2 and is_secret_name(value[0]) and isinstance(value[1], str):
            return [value[0], FILTERED]
        return [scrub(item, depth + 1) for item in value]
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """The ``before_send`` hook: the event with every secret filtered (never drops it)."""
    return scrub(event)


def init_sentry(dsn: str, *, traces_sample_rate: float = 0.0, **options: Any) -> None:
    """Start Sentry with the Django and Celery integrations and the scrubber."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # No personal data: neither data_collection nor the deprecated send_default_pii is
        # set, which sentry-sdk 2.75 treats as send_default_pii=False (and adds its scrubber).
        traces_sample_rate=traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=lambda crumb, hint: scrub(crumb),
        **options,
    )
