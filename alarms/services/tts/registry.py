"""Which speech engine to use: ``settings.ALARMS_TTS_ENGINE``.

``auto`` (the default): espeak-ng when the binary is installed, else the chime (``tone``).
``espeak``, ``speech-api``, ``tone``: the names config/settings.py accepts (it refuses any
other at start-up, so aliases here could never be reached).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from alarms.services.tts.base import SpeechEngine
from alarms.services.tts.espeak import EspeakEngine, espeak_binary
from alarms.services.tts.speech_api import SpeechApiEngine
from alarms.services.tts.tone import ToneEngine

logger = logging.getLogger(__name__)

ENGINES = {
    "espeak": EspeakEngine,
    "speech-api": SpeechApiEngine,
    "tone": ToneEngine,
}
_warned_auto = False


def configured_engine_name() -> str:
    return str(settings.ALARMS_TTS_ENGINE or "auto").strip().lower()


def get_engine(name: str | None = None) -> SpeechEngine:
    """The engine named by ``name`` or the setting. Raises ImproperlyConfigured for an
    unknown name."""
    global _warned_auto
    name = (name or configured_engine_name()).lower()
    if name == "auto":
        if espeak_binary():
            return EspeakEngine()
        if not _warned_auto:
            logger.warning(
                "ALARMS_TTS_ENGINE=auto and espeak-ng is not installed: briefings "
                "will be a chime, not speech"
            )
            _warned_auto = True
        return ToneEngine()
    try:
        return ENGINES[name]()
    except KeyError:
        raise ImproperlyConfigured(
            f"ALARMS_TTS_ENGINE: unknown engine {name!r}; use one of auto, "
            f"{', '.join(sorted(ENGINES))}"
        )
