"""A briefing's audio, made once and within budget.

For each engine of the chain (the configured one, then espeak-ng when installed, then the
chime), ``produce_audio``:

1. looks the clip up by the hash of what would make it: a script said before is not
   synthesised again (``alarms.services.clips``);
2. for WAV engines, synthesises the script section by section, each section a clip kept
   for the day (the date line, "No check-ins or check-outs today." and a greeting recur
   across owners and days), and joins the frames (``wavjoin``); other formats (the speech
   API's mp3) are synthesised whole;
3. reserves the characters and requests it is about to spend in the engine's daily budget
   (``budget``); near the budget, it moves on to the next engine, and says so.

Synthesis errors are raised (the engine retries with backoff), not turned into fallbacks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from alarms.models import AudioClip, ClipKind
from alarms.services import budget
from alarms.services.clips import chime_clip, clip_key, find_clip, store_clip
from alarms.services.tts.base import Audio, SpeechEngine, wav_duration_ms
from alarms.services.tts.espeak import EspeakEngine, espeak_binary
from alarms.services.tts.registry import get_engine
from alarms.services.tts.tone import ToneEngine
from alarms.services.wavjoin import CannotJoin, join_wav

logger = logging.getLogger(__name__)

# A section clip is kept this long after it was made, referred to or not.
SECTION_TTL = timedelta(hours=26)


class OverBudget(Exception):
    pass


@dataclass
class Produced:
    clip: AudioClip
    engine: str
    calls: int = 0  # synthesis requests made for this briefing
    characters: int = 0  # characters sent to the engine
    retries: int = 0
    fallbacks: tuple[str, ...] = ()  # engines skipped for their budget


def engine_chain(primary: SpeechEngine | None = None) -> list[SpeechEngine]:
    """The configured engine, then espeak-ng (if installed and not already first), then the
    chime."""
    primary = primary or get_engine()
    chain = [primary]
    if primary.name not in ("espeak-ng", "tone") and espeak_binary():
        chain.append(EspeakEngine())
    if primary.name != "tone":
        chain.append(ToneEngine())
    return chain


def produce_audio(text: str, parts: list[str], voice: str, now: datetime) -> Produced:
    """The clip for a script (``text``, made of ``parts``), from the first engine of the
    chain within its budget. Raises the engine's SyncError subclasses and OSError."""
    skipped: list[str] = []
    for engine in engine_chain():
        try:
            produced = _produce_with(engine, text, parts, voice, now)
        except OverBudget:
            budget.note_fallback(engine.name, now)
            logger.warning("speech engine %s is near its daily budget: next engine", engine.name)
            skipped.append(engine.name)
            continue
        produced.fallbacks = tuple(skipped)
        return produced
    raise AssertionError("the chime never runs out")  # pragma: no cover


def _produce_with(engine, text: str, parts: list[str], voice: str, now: datetime) -> Produced:
    voice_id, model = engine.identity(voice)
    fmt = engine.audio_format
    if not getattr(engine, "speaks", True):
        return Produced(clip=chime_clip(), engine=engine.name)
    joinable = fmt == "wav" and len(parts) > 1 and " ".join(parts) == text
    key = clip_key(engine.name, voice_id, model, f"{fmt}+joined" if joinable else fmt, text)
    clip = find_clip(key)
    if clip is not None:
        return Produced(clip=clip, engine=clip.engine or engine.name)
    if joinable:
        try:
            return _joined(engine, key, parts, voice, now, (voice_id, model))
        except CannotJoin as exc:
            logger.warning("%s: sections not joined (%s), synthesising whole", engine.name, exc)
    return _whole(engine, key, text, voice, now)


def _spend(engine, texts: list[str], now: datetime) -> int:
    characters = sum(len(t) for t in texts)
    if texts and not budget.reserve(engine.name, characters, len(texts), now):
        raise OverBudget(engine.name)
    return characters


def _synthesize(engine, text: str, voice: str, now: datetime) -> Audio:
    try:
        return engine.synthesize(text, voice)
    except Exception:
        budget.refund(engine.name, len(text), 1, now)  # failed calls are not billed
        raise


def _whole(engine, key: str, text: str, voice: str, now: datetime) -> Produced:
    characters = _spend(engine, [text], now)
    audio = _synthesize(engine, text, voice, now)
    clip = store_clip(key, audio, characters=len(text))
    return Produced(clip, audio.engine, 1, characters, audio.retries)


def _joined(engine, key, parts, voice, now, identity) -> Produced:
    keys = [clip_key(engine.name, *identity, engine.audio_format, part) for part in parts]
    have = {c.key: c for c in AudioClip.objects.filter(key__in=keys)}
    missing = {k: part for k, part in zip(keys, parts, strict=True) if k not in have}
    # A section said again is kept another day (a greeting said every morning stays).
    AudioClip.objects.filter(key__in=list(have), keep_until__lt=now + SECTION_TTL / 2).update(
        keep_until=now + SECTION_TTL
    )
    characters = _spend(engine, list(missing.values()), now)
    retries = 0
    for index, (section_key, part) in enumerate(missing.items()):
        try:
            audio = _synthesize(engine, part, voice, now)
        except Exception:
            rest = list(missing.values())[index + 1 :]
            if rest:
                budget.refund(engine.name, sum(len(t) for t in rest), len(rest), now)
            raise
        retries += audio.retries
        have[section_key] = store_clip(
            section_key,
            audio,
            kind=ClipKind.SECTION,
            characters=len(part),
            keep_until=now + SECTION_TTL,
        )
    datas = []
    for section_key in keys:
        try:
            with have[section_key].file.open("rb") as handle:
                datas.append(handle.read())
        except OSError as exc:
            raise CannotJoin(f"section file unreadable: {exc}") from exc
    data = join_wav(datas)
    audio = Audio(data, "wav", "audio/wav", wav_duration_ms(data), engine.name, retries)
    clip = store_clip(key, audio, characters=sum(len(p) for p in parts))
    return Produced(clip, engine.name, len(missing), characters, retries)
