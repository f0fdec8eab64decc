"""Benchmark: speech calls and stored bytes per 1,000 briefings, before and after issue 14.

    .venv/bin/python bench/speech.py --briefings 1000 --owners 500

M owners with realistic overlap (first names from a pool of common ones, alarms on the
quarter hours 06:00-08:00 in zones that share offsets, a third with one of a few common
notes, a tenth with a note of their own), N briefings generated in-process through the
engine's real path (claim, ``sync_alarm``, PostgreSQL, storage), against a local
OpenAI-compatible speech server that answers 60 ms of audio per character (WAV: 16-bit
mono 22.05 kHz; mp3: 64 kbit/s) and counts what it is asked. Engines: the speech API in
mp3 (whole briefings, shared when identical), in WAV (joined from sections said once a
day), and the chime.

"Before" is what the code before issue 14 did by construction: one whole synthesis per
briefing and one file per briefing (the same server's size for that script; the chime
stored once per briefing). Writes bench/reports/speech.json. Not run by CI; uses its own
database (syncbeat_bench_speech).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

os.environ.setdefault("BENCH_DB", "syncbeat_bench_speech")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import setup_django, write_report  # noqa: E402

NAMES = [
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas",
    "Lena", "Max", "Mia", "Noah", "Olivia", "Paul", "Sofia", "Tom", "Yara", "Zoe",
]  # fmt: skip
COMMON_NOTES = ["Take your vitamins.", "Gym today.", "Water the plants.", "Call mum."]
ZONES = ["Europe/Berlin", "Europe/Paris", "Europe/London", "Europe/Lisbon"]
MS_PER_CHAR = 60


def wav_bytes(characters: int) -> int:
    return 44 + characters * MS_PER_CHAR * 44  # 22.05 kHz x 2 bytes per ms


def mp3_bytes(characters: int) -> int:
    return characters * MS_PER_CHAR * 8


def speech_server(counter: dict):
    """A local speech API: WAV or mp3 sized by the text; counts requests and characters."""
    import io
    import wave

    from tests.support.http import Reply, local_server

    def speak(seen):
        body = json.loads(seen.body)
        text, fmt = body["input"], body["response_format"]
        counter["calls"] += 1
        counter["characters"] += len(text)
        if fmt == "wav":
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as writer:
                writer.setnchannels(1)
                writer.setsampwidth(2)
                writer.setframerate(22050)
                writer.writeframes(b"\x00\x00" * (22050 * MS_PER_CHAR * len(text) // 1000))
            return Reply(200, buffer.getvalue(), {"Content-Type": "audio/wav"})
        return Reply(200, b"\xff\xfb" * (mp3_bytes(len(text)) // 2), {"Content-Type": "audio/mpeg"})

    return local_server({"/v1/audio/speech": speak})


def create_alarms(owners: int, briefings: int, seed: int) -> list:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from alarms.services.alarms import alarm_create
    from syncing.models import Account

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE alarms_briefing, alarms_audioclip, alarms_speechspend, alarms_alarm, "
            "syncing_syncattempt CASCADE"
        )
    rng = random.Random(seed)
    users = get_user_model()
    users.objects.filter(username__startswith="speechbench").delete()
    people = []
    for i in range(owners):
        user = users.objects.create_user(
            username=f"speechbench{i}", email=f"speechbench{i}@example.com",
            first_name=rng.choice(NAMES),
        )  # fmt: skip
        Account.objects.update_or_create(user=user, defaults={"plan": "pro"})
        roll = rng.random()
        note = rng.choice(COMMON_NOTES) if roll < 0.33 else (f"Ticket {i}." if roll < 0.43 else "")
        people.append((user, note, rng.choice(ZONES)))
    alarms = []
    for n in range(briefings):
        user, note, zone = people[n % owners]
        quarter = rng.randrange(9)  # 06:00 .. 08:00
        at = dtime(6 + quarter // 4, 15 * (quarter % 4))
        options = {"sections": {"calendar": False, "market": False}, "note": note}
        alarms.append(
            alarm_create(user, time=at, timezone=zone, days=[0], label=f"b{n}", options=options)
        )
    return alarms


def generate_all(alarms: list, monday: date) -> float:
    from django.conf import settings

    from alarms.models import Alarm
    from alarms.services.schedule import next_ring
    from syncing.kinds import get_kind
    from syncing.services.claims import claim_one
    from syncing.services.runs import run_claimed

    kind = get_kind("alarms.alarm")
    started = time.perf_counter()
    for alarm in alarms:
        alarm = Alarm.objects.get(pk=alarm.pk)
        ring = next_ring(alarm, datetime.combine(monday, dtime(0), UTC))
        due = ring - timedelta(minutes=alarm.lead_minutes)
        settings.ALARMS_FAKE_CLOCK = f"{time.time()},{due.timestamp()},1"
        claim = claim_one(kind, alarm.pk, force=True)
        report = run_claimed("alarms.alarm", claim.token, claim.pks)
        assert report.attempts[0].outcome == "ok", report.attempts[0].message
    return time.perf_counter() - started


def measure(mode: str, alarms: list, monday: date) -> dict:
    from django.conf import settings
    from django.db.models import Count, Sum

    from alarms.models import AudioClip, Briefing
    from alarms.services.tts.tone import chime_wav

    Briefing.objects.all().delete()
    AudioClip.objects.all().delete()
    counter = {"calls": 0, "characters": 0}
    with speech_server(counter) as server:
        settings.ALARMS_TTS_ENGINE = "tone" if mode == "chime" else "speech-api"
        settings.SPEECH_API_FORMAT = "wav" if mode == "wav" else "mp3"
        settings.SPEECH_API_BASE_URL = server.url
        seconds = generate_all(alarms, monday)
    scripts = list(Briefing.objects.values_list("script", flat=True))
    n = len(scripts)
    size = {"wav": wav_bytes, "mp3": mp3_bytes}.get(mode)
    before_bytes = sum(size(len(s)) for s in scripts) if size else n * len(chime_wav())
    clips = AudioClip.objects.values("kind").annotate(n=Count("pk"), bytes=Sum("size"))
    after_bytes = sum(row["bytes"] for row in clips)
    per_k = 1000 / n
    return {
        "briefings": n,
        "distinct_scripts": len(set(scripts)),
        "seconds": round(seconds, 1),
        "before": {
            "speech_calls": round((0 if mode == "chime" else n) * per_k),
            "characters": round((0 if mode == "chime" else sum(map(len, scripts))) * per_k),
            "stored_bytes": round(before_bytes * per_k),
        },
        "after": {
            "speech_calls": round(counter["calls"] * per_k),
            "characters": round(counter["characters"] * per_k),
            "stored_bytes": round(after_bytes * per_k),
            "clips": {row["kind"]: row["n"] for row in clips},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefings", type=int, default=1000)
    parser.add_argument("--owners", type=int, default=500)
    parser.add_argument("--modes", default="mp3,wav,chime")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    os.environ.setdefault("ALARMS_TTS_ENGINE", "speech-api")
    setup_django()
    from django.conf import settings

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="speech-bench-")
    settings.ALLOW_PRIVATE_URLS = True
    settings.SPEECH_API_RATE_LIMIT = "100000/second"
    settings.REDIS_URL = ""  # the budget counts in the database: this bench has no budget
    import logging

    logging.disable(logging.WARNING)
    monday = date(2027, 1, 4)
    alarms = create_alarms(args.owners, args.briefings, args.seed)
    report = {"owners": args.owners, "briefings": args.briefings}
    for mode in args.modes.split(","):
        report[mode] = measure(mode, alarms, monday)
        print(mode, json.dumps(report[mode]))
    print("wrote", write_report("speech", report))


if __name__ == "__main__":
    main()
