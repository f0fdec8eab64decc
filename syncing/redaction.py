"""Secrets out of the logs: export feed tokens, signed audio tokens and token-like query
parameters are replaced by ``[redacted]`` in every log line, the access logs included.

- ``RedactSecretsFilter``: a logging filter on the console handler (settings.LOGGING), so
  Django's request log ("Not Found: /calendars/<token>.ics") and runserver's access log
  are redacted;
- ``RedactingGunicornLogger``: gunicorn's logger with every access-log atom redacted
  (gunicorn.conf.py names it, and gunicorn reads that file from the working directory).

Imports nothing from Django: gunicorn loads it before the application.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

REDACTED = "[redacted]"
_PATTERNS = [
    # The merged export feed: /calendars/<token>.ics (and any /calendars/export/<token>).
    (re.compile(r"(/calendars/export/)[^\s?\"'/]+"), rf"\1{REDACTED}"),
    (re.compile(r"(/calendars/)[^\s?\"'/]+(\.ics)"), rf"\1{REDACTED}\2"),
    # Signed audio links: /alarms/audio/<token>/.
    (re.compile(r"(/alarms/audio/)[^\s?\"'/]+"), rf"\1{REDACTED}"),
    # Query parameters that carry credentials.
    (
        re.compile(r"([?&](?:token|key|api_key|apikey|signature|sig|secret)=)[^&\s\"']+", re.I),
        rf"\1{REDACTED}",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Formats the record's message once, redacted (the arguments are dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as it is
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingGunicornLogger(GunicornLogger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
