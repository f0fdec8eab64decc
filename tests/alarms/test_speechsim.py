"""speechsim answers like a speech API, slowly, and our client accepts it."""

from __future__ import annotations

import time

from alarms.services.tts.speech_api import SpeechApiEngine
from alarms.speechsim.server import SpeechServer
from syncing.serving import serving


def test_the_speech_api_client_against_speechsim(settings, allow_private_urls):
    with serving(SpeechServer("127.0.0.1", 0, sleep=0.2)) as server:
        settings.SPEECH_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
        started = time.monotonic()
        audio = SpeechApiEngine().synthesize("Good morning.")
        assert time.monotonic() - started >= 0.2
        assert audio.data.startswith(b"ID3") and audio.extension == "mp3"
        assert server.served == 1 and server.characters == len("Good morning.")
