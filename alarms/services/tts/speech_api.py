"""An OpenAI-compatible speech API client: ``POST {base}/v1/audio/speech``.

Goes out through the engine's fetcher (timeouts, byte cap, shared rate limit, retries with
backoff that honour ``Retry-After`` on 429). Settings: SPEECH_API_BASE_URL, SPEECH_API_KEY,
SPEECH_API_MODEL (default "tts-1"), SPEECH_API_VOICE (default "alloy"),
SPEECH_API_RATE_LIMIT (default "50/second"), SPEECH_API_DEADLINE seconds (default 60),
SPEECH_API_FORMAT ("mp3", the default, or "wav": WAV briefings can be joined from shared
sections, see ``alarms.services.speech``).
"""

from __future__ import annotations

import wave

from django.conf import settings

from alarms.services.tts.base import Audio, SpeechError, SpeechUnavailable, wav_duration_ms
from syncing.fetcher import fetch

RATE_KEY = "speech-api"
MAX_AUDIO_BYTES = 20 * 1024 * 1024
# OpenAI's mp3 is 64 kbit/s (8 bytes per millisecond) for tts-1; a close enough estimate.
MP3_BYTES_PER_MS = 8
FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav"}


class SpeechApiEngine:
    name = "speech-api"

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None) -> None:
        base = base_url if base_url is not None else settings.SPEECH_API_BASE_URL
        self.base_url = (base or "").rstrip("/")
        self.api_key = api_key if api_key is not None else settings.SPEECH_API_KEY
        self.model = settings.SPEECH_API_MODEL
        self.default_voice = settings.SPEECH_API_VOICE
        self.rate_limit = settings.SPEECH_API_RATE_LIMIT
        self.deadline = float(settings.SPEECH_API_DEADLINE)
        fmt = str(settings.SPEECH_API_FORMAT or "mp3").lower()
        self.audio_format = fmt if fmt in FORMATS else "mp3"

    def identity(self, voice: str) -> tuple[str, str]:
        """(voice, model) as they shape the audio: part of a clip's address."""
        return (voice or "").strip() or self.default_voice, self.model

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/audio/speech"

    def synthesize(self, text: str, voice: str = "") -> Audio:
        """Ask the service for ``text`` as ``self.audio_format`` (mp3 or wav).

        Raises SpeechUnavailable without a base URL; the fetcher's TransientFetchError /
        PermanentFetchError for HTTP trouble (a 429 is retried by the fetcher first);
        SpeechError when the answer is not audio.
        """
        if not self.base_url:
            raise SpeechUnavailable("SPEECH_API_BASE_URL is not set")
        content_type = FORMATS[self.audio_format]
        headers = {"Accept": content_type}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        payload = {
            "model": self.model,
            "input": text,
            "voice": (voice or "").strip() or self.default_voice,
            "response_format": self.audio_format,
        }
        result = fetch(
            self.url,
            method="POST",
            headers=headers,
            json=payload,
            max_bytes=MAX_AUDIO_BYTES,
            deadline=self.deadline,
            rate_limit=self.rate_limit,
            rate_key=RATE_KEY,
        )
        if not result.body:
            error = SpeechError("the speech API answered with an empty body", reason="tts_empty")
            error.retries = result.retries
            raise error
        kind = result.content_type
        if kind and not (kind.startswith("audio/") or kind == "application/octet-stream"):
            error = SpeechError(
                f"the speech API answered {kind!r}, not audio",
                reason="tts_not_audio",
                http_status=result.status,
            )
            error.retries = result.retries
            raise error
        return Audio(
            data=result.body,
            extension=self.audio_format,
            content_type=content_type,
            duration_ms=self._duration_ms(result),
            engine=self.name,
            retries=result.retries,
        )

    def _duration_ms(self, result) -> int:
        if self.audio_format == "mp3":
            return len(result.body) // MP3_BYTES_PER_MS
        try:
            return wav_duration_ms(result.body)
        except (wave.Error, EOFError) as exc:
            error = SpeechError(f"the speech API sent no readable WAV: {exc}", reason="tts_bad_wav")
            error.retries = result.retries
            raise error from exc
