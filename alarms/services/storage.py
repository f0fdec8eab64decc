"""Audio files in Django's default storage, under unguessable names; briefings keep theirs
for 48 hours (the clips they refer to: ``alarms.services.clips``).

Names are ``alarms/<32 random hex>/<16 random hex>.<ext>``: nothing in them (alarm id,
owner, date) can be guessed, and MEDIA_URL is never served: audio leaves only through the
signed-URL view (``alarms.views.audio``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

PREFIX = "alarms"
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}


def audio_ttl() -> timedelta:
    return timedelta(hours=float(settings.ALARMS_AUDIO_TTL_HOURS))


def random_name(extension: str) -> str:
    return f"{PREFIX}/{secrets.token_hex(16)}/{secrets.token_hex(8)}.{extension}"


def save_audio(data: bytes, extension: str) -> str:
    """Store ``data``; returns the storage name. Raises OSError (storage trouble)."""
    return default_storage.save(random_name(extension), ContentFile(data))


def delete_audio(name: str) -> None:
    if not name:
        return
    try:
        default_storage.delete(name)
    except OSError:
        logger.warning("could not delete audio %s", name, exc_info=True)


def content_type_for(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def expire_audio(now: datetime, *, limit: int = 5000) -> int:
    """Take the audio from briefings whose ``expires_at`` passed; returns how many.

    The briefing rows stay (history, on-time rate) without their clip; a clip no other
    briefing refers to is deleted, and so are section clips past their day.
    """
    from alarms.models import Briefing
    from alarms.services.clips import release_clips, sweep_clips

    rows = list(
        Briefing.objects.filter(expires_at__lte=now, clip__isnull=False).values_list(
            "pk", "clip_id"
        )[:limit]
    )
    if rows:
        Briefing.objects.filter(pk__in=[pk for pk, _ in rows]).update(clip=None)
        deleted = release_clips([clip_id for _, clip_id in rows], now=now)
        logger.info("expired the audio of %d briefing(s), %d clip(s) deleted", len(rows), deleted)
    sweep_clips(now)
    return len(rows)
