"""espeak-ng, the local speech engine: a subprocess that writes a WAV file."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import wave

from django.conf import settings

from alarms.services.tts.base import Audio, SpeechError, SpeechUnavailable, wav_duration_ms

logger = logging.getLogger(__name__)

BINARY = "espeak-ng"
DEFAULT_VOICE = "en"
# espeak-ng voice names ("en", "en-us", "de", "en+f3"); anything else (an API voice such as
# "alloy") falls back to the default rather than reaching the command line.
VOICE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*(\+[a-z0-9]{1,8})?$")


def espeak_binary() -> str | None:
    return shutil.which(BINARY)


class EspeakEngine:
    name = "espeak-ng"
    audio_format = "wav"

    def __init__(self, *, timeout: float | None = None, words_per_minute: int = 165) -> None:
        self.timeout = timeout or float(settings.ALARMS_ESPEAK_TIMEOUT)
        self.words_per_minute = words_per_minute

    def identity(self, voice: str) -> tuple[str, str]:
        """(voice, model) as they shape the audio: part of a clip's address."""
        return self.voice_for(voice), f"{self.words_per_minute}wpm"

    def voice_for(self, voice: str) -> str:
        voice = (voice or "").strip().lower()
        return voice if VOICE_PATTERN.match(voice) else DEFAULT_VOICE

    def synthesize(self, text: str, voice: str = "") -> Audio:
        """Speak ``text`` to a WAV file. The text goes on stdin, never on the command line.

        Raises SpeechUnavailable without the binary, SpeechError on a timeout, a non-zero
        exit or an unreadable WAV.
        """
        binary = espeak_binary()
        if binary is None:
            raise SpeechUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
        with tempfile.TemporaryDirectory(prefix="alarms-espeak-") as folder:
            path = os.path.join(folder, "speech.wav")
            command = [
                binary,
                "--stdin",
                "-w",
                path,
                "-v",
                self.voice_for(voice),
                "-s",
                str(self.words_per_minute),
            ]
            try:
                done = subprocess.run(  # noqa: S603 - fixed argv, text on stdin
                    command,
                    input=text.encode("utf-8"),
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise SpeechError(
                    f"espeak-ng took longer than {self.timeout:.0f}s", reason="tts_timeout"
                )
            if done.returncode != 0:
                stderr = done.stderr.decode("utf-8", "replace").strip()[:200]
                raise SpeechError(f"espeak-ng exited with {done.returncode}: {stderr}")
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
                duration = wav_duration_ms(data)
            except (OSError, wave.Error, EOFError) as exc:
                raise SpeechError(f"espeak-ng wrote no readable WAV: {exc}")
        return Audio(
            data=data,
            extension="wav",
            content_type="audio/wav",
            duration_ms=duration,
            engine=self.name,
        )
