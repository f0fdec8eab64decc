"""Input checks shared by every edge (forms, serializers, the JSON parser, middleware), so
that no input reaches the database or a library in a shape that ends in a 500.

- time zones: the zone database's own list (``zoneinfo.available_timezones()``), so a zone
  folder ("America") or a 10,000-character name is a validation error, not an OSError;
- text: NUL, other control characters and lone surrogates are refused (PostgreSQL refuses
  NUL, UTF-8 cannot encode a lone surrogate, CR/LF breaks a line of an ICS feed);
- JSON bodies: nesting depth bounded before the structure is used (100,000 ``[`` raise
  RecursionError in the json module).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from functools import lru_cache

from django.core.exceptions import ValidationError

ZONE_NAME_MAX_LENGTH = 64
JSON_MAX_DEPTH = 32
# C0 controls and DEL; tab, LF and CR are allowed only where the text may span lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_known_zone(name: object) -> bool:
    return isinstance(name, str) and len(name) <= ZONE_NAME_MAX_LENGTH and name in known_zones()


def validate_zone_name(value: str) -> None:
    """Raises ValidationError unless ``value`` is a zone of the zone database."""
    if not is_known_zone(value):
        shown = value if len(value) <= ZONE_NAME_MAX_LENGTH else value[:20] + "…"
        raise ValidationError(
            f"{shown!r} is not a known IANA time zone (e.g. Europe/Berlin).", code="timezone"
        )


def has_control_characters(text: object, *, multiline: bool = False) -> bool:
    """True when ``text`` holds NUL, a control character (CR, LF and tab allowed when
    ``multiline``) or a lone surrogate."""
    if not isinstance(text, str):
        return False
    pattern = _CONTROL if multiline else _CONTROL_SINGLE_LINE
    return bool(pattern.search(text) or _SURROGATE.search(text))


def validate_single_line(value: str) -> None:
    """A validator for names and other one-line text: no control characters at all."""
    if has_control_characters(value):
        raise ValidationError(
            "Control characters (line breaks, NUL, ...) are not allowed here.", code="control"
        )


def validate_text(value: str) -> None:
    """A validator for text that may span lines: no NUL or other control characters."""
    if has_control_characters(value, multiline=True):
        raise ValidationError("Control characters (NUL, ...) are not allowed.", code="control")


def validate_date_in_range(value: date, *, years: int = 5) -> None:
    """Dates more than ``years`` from today (9999-12-31, 0001-01-01) are refused: converting
    them between zones overflows."""
    today = date.today()
    if abs((value - today).days) > 366 * years:
        raise ValidationError(f"Choose a date within {years} years of today.", code="date_range")


def json_problem(value: object) -> str | None:
    """Why a parsed JSON value is refused (too deep, a string with NUL, control characters or
    lone surrogates), or None. Iterative: the depth check itself cannot recurse too far."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            return f"JSON nested deeper than {JSON_MAX_DEPTH} levels."
        if isinstance(item, str):
            if has_control_characters(item, multiline=True):
                return "JSON strings must not contain NUL, control characters or lone surrogates."
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None
