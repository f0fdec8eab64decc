"""The speech engine interface, the audio it returns, and the errors it raises."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import Protocol

from syncing.results import PermanentSyncError, TransientSyncError


@dataclass(frozen=True)
class Audio:
    """Synthesised speech, ready to be stored."""

    data: bytes
    extension: str  # "wav" or "mp3": the stored file's suffix
    content_type: str
    duration_ms: int
    engine: str
    retries: int = 0  # short retries the engine made (speech API: 429, 5xx, timeouts)


class SpeechEngine(Protocol):
    name: str

    def synthesize(self, text: str, voice: str = "") -> Audio:
        """Speak ``text`` with ``voice`` (engine-specific; empty: the engine's default).

        Raises SpeechError (might work next time) or SpeechUnavailable (misconfigured).
        """
        ...


class SpeechError(TransientSyncError):
    """Synthesis failed this time: a timeout, a crash, a busy speech service."""

    def __init__(self, message: str, *, reason: str = "tts_failed", **kwargs) -> None:
        super().__init__(reason, message, **kwargs)


class SpeechUnavailable(PermanentSyncError):
    """The engine cannot work here until someone fixes the setup (binary or key missing)."""

    def __init__(self, message: str, *, reason: str = "tts_unavailable", **kwargs) -> None:
        super().__init__(reason, message, **kwargs)


def wav_duration_ms(data: bytes) -> int:
    """The length of a WAV file's audio in milliseconds; raises wave.Error if it is not WAV.

    espeak-ng writes to a pipe-friendly header with a 0xFFFFFFFF data size when it streams;
    the frame count is then taken from the bytes actually present.
    """
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        width = reader.getsampwidth() * reader.getnchannels()
        frames = reader.getnframes()
    header = data.find(b"data")
    if header >= 0 and width:
        present = (len(data) - header - 8) // width
        frames = min(frames, present) if frames else present
    return int(frames * 1000 / rate) if rate else 0
