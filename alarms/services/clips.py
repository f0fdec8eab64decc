"""Content-addressed audio: one stored clip per distinct thing said, shared by briefings.

A clip's key is the sha256 of what made it (engine, voice, model, format, text), so the
same script is synthesised once. Two workers making the same clip at once both may
synthesise, but only one row wins the unique key (``get_or_create``): the loser deletes
its own file and uses the winner's. A clip is released (row, then its file after commit)
when no briefing refers to it any more and its ``keep_until`` (section clips, kept for
the day) has passed; releasing locks the row, so a worker attaching the clip at the same
moment either keeps it alive or finds it gone and makes it again (``attach``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from alarms.models import AudioClip, Briefing, ClipKind
from alarms.services import storage
from alarms.services.tts.base import Audio

logger = logging.getLogger(__name__)

# An unreferenced clip younger than this is never swept: a worker may be about to attach it.
SWEEP_GRACE = timedelta(hours=1)
CHIME_KEY_TEXT = "(chime)"


def clip_key(engine: str, voice: str, model: str, fmt: str, text: str) -> str:
    """The address of the audio ``engine`` makes of ``text`` (all parts matter)."""
    blob = json.dumps([engine, voice, model, fmt, text], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def find_clip(key: str) -> AudioClip | None:
    return AudioClip.objects.filter(key=key).first()


def store_clip(
    key: str,
    audio: Audio,
    *,
    kind: str = ClipKind.BRIEFING,
    characters: int = 0,
    keep_until: datetime | None = None,
) -> AudioClip:
    """Store ``audio`` as the clip ``key``; if another worker stored it first, its clip is
    returned and our file deleted. Raises OSError on storage trouble."""
    name = storage.save_audio(audio.data, audio.extension)
    clip, created = AudioClip.objects.get_or_create(
        key=key,
        defaults={
            "file": name,
            "kind": kind,
            "engine": audio.engine[:32],
            "characters": characters,
            "size": len(audio.data),
            "duration_ms": audio.duration_ms,
            "keep_until": keep_until,
        },
    )
    if not created:
        storage.delete_audio(name)  # the loser reuses the winner's file
        if keep_until and (clip.keep_until is None or clip.keep_until < keep_until):
            AudioClip.objects.filter(pk=clip.pk).update(keep_until=keep_until)
    return clip


def clip_for(
    key: str,
    make: Callable[[], Audio],
    *,
    kind: str = ClipKind.BRIEFING,
    characters: int = 0,
    keep_until: datetime | None = None,
) -> tuple[AudioClip, bool]:
    """(the clip ``key``, whether ``make`` was called): the stored clip if there is one,
    else ``make()`` stored. Raises what ``make`` raises, and OSError."""
    clip = find_clip(key)
    if clip is not None:
        return clip, False
    return store_clip(key, make(), kind=kind, characters=characters, keep_until=keep_until), True


def chime_clip() -> AudioClip:
    """The chime: one clip, whatever the number of briefings that ring with it."""
    from alarms.services.tts.tone import chime_audio

    key = clip_key("tone", "", "", "wav", CHIME_KEY_TEXT)
    return clip_for(key, chime_audio, kind=ClipKind.CHIME)[0]


def lock_clip(clip: AudioClip) -> bool:
    """Inside a transaction: lock the clip's row so that it cannot be released before the
    briefing referring to it commits. False if it was released meanwhile."""
    return AudioClip.objects.select_for_update().filter(pk=clip.pk).exists()


def release_clips(clip_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Delete the clips of ``clip_ids`` that no briefing refers to and that need not be
    kept any longer; their files go after commit. Returns how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    for clip_id in set(clip_ids):
        with transaction.atomic():
            clip = AudioClip.objects.select_for_update().filter(pk=clip_id).first()
            if clip is None or (clip.keep_until and clip.keep_until > now):
                continue
            if Briefing.objects.filter(clip_id=clip_id).exists():
                continue
            name = clip.file.name
            clip.delete()
            transaction.on_commit(lambda name=name: storage.delete_audio(name))
            deleted += 1
    return deleted


def sweep_clips(now: datetime, *, limit: int = 5000) -> int:
    """Release the clips nothing refers to (sections past their day, leftovers of a crash
    between storing and attaching); returns how many were deleted."""
    ids = list(
        AudioClip.objects.filter(created_at__lt=now - SWEEP_GRACE, briefings__isnull=True)
        .exclude(keep_until__gt=now)
        .values_list("pk", flat=True)[:limit]
    )
    return release_clips(ids, now=now)
