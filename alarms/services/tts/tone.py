"""The built-in chime: a short two-note WAV written with the stdlib ``wave`` module.

For machines with neither espeak-ng nor a speech service, and as the last-resort fallback
when a briefing misses its deadline. It speaks nothing, and says so in the log.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import wave
from functools import lru_cache

from alarms.services.tts.base import Audio, wav_duration_ms

logger = logging.getLogger(__name__)

RATE = 22050
NOTES = ((880.0, 0.45), (1318.5, 0.75))  # A5 then E6, decaying
AMPLITUDE = 0.4


@lru_cache(maxsize=1)
def chime_wav() -> bytes:
    """The chime as WAV bytes (16-bit mono, 22.05 kHz, 1.2 s), built once per process."""
    frames = bytearray()
    for frequency, seconds in NOTES:
        count = int(RATE * seconds)
        for n in range(count):
            t = n / RATE
            envelope = math.exp(-4.0 * t / seconds) * min(1.0, n / 200)
            sample = AMPLITUDE * envelope * math.sin(2 * math.pi * frequency * t)
            frames += struct.pack("<h", int(sample * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(bytes(frames))
    return buffer.getvalue()


def chime_audio(engine: str = "tone") -> Audio:
    data = chime_wav()
    duration = wav_duration_ms(data)
    return Audio(
        data=data, extension="wav", content_type="audio/wav", duration_ms=duration, engine=engine
    )


class ToneEngine:
    """Writes the chime instead of speech (the text is not spoken)."""

    name = "tone"
    audio_format = "wav"
    speaks = False  # every text makes the same chime: one clip

    def identity(self, voice: str) -> tuple[str, str]:
        return "", ""

    def synthesize(self, text: str, voice: str = "") -> Audio:
        logger.info(
            "tone engine: writing the chime instead of speech (%d characters of "
            "script not spoken; install espeak-ng or set SPEECH_API_BASE_URL)",
            len(text),
        )
        return chime_audio()
