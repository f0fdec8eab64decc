"""Signed, expiring audio URLs: the only way a briefing's audio leaves the server.

The token signs (briefing id, owner id) with Django's signing (SECRET_KEY, salt below) and
a timestamp; ``settings.ALARMS_AUDIO_URL_MAX_AGE`` seconds later (default 1 hour) it is
refused. A tampered token is "not found"; an expired one is "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "alarms.audio"


class ExpiredLink(Exception):
    pass


class BadLink(Exception):
    pass


@dataclass(frozen=True)
class AudioLink:
    briefing_id: int
    owner_id: int


def max_age() -> int:
    return int(settings.ALARMS_AUDIO_URL_MAX_AGE)


def sign(briefing) -> str:
    return signing.dumps({"b": briefing.pk, "o": briefing.alarm.owner_id}, salt=SALT, compress=True)


def audio_path(briefing) -> str:
    return reverse("alarms:audio", args=[sign(briefing)])


def unsign(token: str) -> AudioLink:
    """The link a token stands for. Raises ExpiredLink or BadLink."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise ExpiredLink(token)
    except signing.BadSignature:
        raise BadLink(token)
    try:
        return AudioLink(briefing_id=int(data["b"]), owner_id=int(data["o"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink(token)
