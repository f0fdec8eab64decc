"""A daily budget per speech engine, shared by every worker, counted per UTC day.

``settings.ALARMS_SPEECH_BUDGETS`` (JSON) maps an engine name to its budget::

    {"speech-api": {"characters": 2000000, "requests": 50000, "cost_per_million": 15.0}}

Zero or a missing limit means "no limit"; an engine that is not named has no budget (its
use is still counted, for the admin). A synthesis first *reserves* its characters and
requests (an atomic increment); if that takes the day past ``ALARMS_SPEECH_BUDGET_PERCENT``
(90) percent of a limit, the reservation is handed back and the caller moves on to the next
engine (``alarms.services.speech``). The counters live in Redis when ``REDIS_URL`` is set
(``HINCRBY``; the ``SpeechSpend`` row mirrors them for the admin) and in that row otherwise
(an ``UPDATE ... + n`` that holds the row lock to the end of the transaction). If Redis
fails, the database counts (logged).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F

from alarms.models import SpeechSpend

logger = logging.getLogger(__name__)

REDIS_PREFIX = "syncbeat:speech-spend:"
REDIS_TTL_SECONDS = 3 * 86400
# What a million characters cost when the budget does not say (OpenAI tts-1, in USD).
DEFAULT_COST_PER_MILLION = {"speech-api": 15.0}


@dataclass(frozen=True)
class Budget:
    characters: int = 0  # per UTC day; 0: no limit
    requests: int = 0
    cost_per_million: float = 0.0

    def share_used(self, characters: int, requests: int) -> float:
        """The larger of the two shares used, 0.0 .. (1.0 and beyond)."""
        shares = [0.0]
        if self.characters:
            shares.append(characters / self.characters)
        if self.requests:
            shares.append(requests / self.requests)
        return max(shares)


def _parse(raw: object) -> dict[str, Budget]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ImproperlyConfigured(f"ALARMS_SPEECH_BUDGETS: not JSON ({exc})")
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("ALARMS_SPEECH_BUDGETS: expected a JSON object")
    budgets = {}
    for engine, spec in raw.items():
        try:
            budgets[engine] = Budget(
                characters=int(spec.get("characters", 0)),
                requests=int(spec.get("requests", 0)),
                cost_per_million=float(
                    spec.get("cost_per_million", DEFAULT_COST_PER_MILLION.get(engine, 0.0))
                ),
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"ALARMS_SPEECH_BUDGETS[{engine!r}]: {exc}")
    return budgets


def budgets() -> dict[str, Budget]:
    """The configured budgets. Raises ImproperlyConfigured naming the setting."""
    return _parse(settings.ALARMS_SPEECH_BUDGETS or {})


def budget_for(engine: str) -> Budget:
    return budgets().get(engine) or Budget(
        cost_per_million=DEFAULT_COST_PER_MILLION.get(engine, 0.0)
    )


def fallback_share() -> float:
    return float(settings.ALARMS_SPEECH_BUDGET_PERCENT) / 100


def reserve(engine: str, characters: int, requests: int, now: datetime) -> bool:
    """Count ``characters`` and ``requests`` against today's budget of ``engine``; False
    (and nothing counted) when that would pass the fallback share of a limit."""
    day = now.date()  # callers pass UTC
    budget = budget_for(engine)
    used_chars, used_requests = _add(engine, day, characters, requests)
    if budget.share_used(used_chars, used_requests) > fallback_share():
        _add(engine, day, -characters, -requests)
        return False
    return True


def refund(engine: str, characters: int, requests: int, now: datetime) -> None:
    """Hand back a reservation whose synthesis failed (services do not bill those)."""
    _add(engine, now.date(), -characters, -requests)


def note_fallback(engine: str, now: datetime) -> None:
    """Count one briefing sent past ``engine`` because it was near its budget."""
    _ensure_row(engine, now.date())
    SpeechSpend.objects.filter(day=now.date(), engine=engine).update(fallbacks=F("fallbacks") + 1)


def usage(engine: str, day: date) -> tuple[int, int]:
    """(characters, requests) counted for ``engine`` on ``day``."""
    client = _redis()
    if client is not None:
        try:
            values = client.hmget(_redis_key(engine, day), "characters", "requests")
            return int(values[0] or 0), int(values[1] or 0)
        except Exception as exc:  # noqa: BLE001 - any Redis trouble: read the database
            logger.warning("speech budget: Redis unavailable (%r), using the database", exc)
    row = SpeechSpend.objects.filter(day=day, engine=engine).first()
    return (row.characters, row.requests) if row else (0, 0)


def _add(engine: str, day: date, characters: int, requests: int) -> tuple[int, int]:
    client = _redis()
    if client is not None:
        try:
            return _add_redis(client, engine, day, characters, requests)
        except Exception as exc:  # noqa: BLE001 - any Redis trouble: count in the database
            logger.warning("speech budget: Redis unavailable (%r), using the database", exc)
    return _add_database(engine, day, characters, requests)


def _redis_key(engine: str, day: date) -> str:
    return f"{REDIS_PREFIX}{day.isoformat()}:{engine}"


def _add_redis(client, engine: str, day: date, characters: int, requests: int):
    key = _redis_key(engine, day)
    pipe = client.pipeline(transaction=True)
    pipe.hincrby(key, "characters", characters)
    pipe.hincrby(key, "requests", requests)
    pipe.expire(key, REDIS_TTL_SECONDS)
    used_chars, used_requests, _ = pipe.execute()
    # The admin's row mirrors the counter (absolute values: a late write corrects itself).
    SpeechSpend.objects.bulk_create(
        [SpeechSpend(day=day, engine=engine, characters=used_chars, requests=used_requests)],
        update_conflicts=True,
        unique_fields=["day", "engine"],
        update_fields=["characters", "requests"],
    )
    return int(used_chars), int(used_requests)


def _ensure_row(engine: str, day: date) -> None:
    SpeechSpend.objects.get_or_create(day=day, engine=engine)


def _add_database(engine: str, day: date, characters: int, requests: int) -> tuple[int, int]:
    _ensure_row(engine, day)
    with transaction.atomic():
        rows = SpeechSpend.objects.filter(day=day, engine=engine)
        rows.update(characters=F("characters") + characters, requests=F("requests") + requests)
        # Our update holds the row lock until commit: this read sees every earlier add.
        return rows.values_list("characters", "requests").get()


_clients_lock = threading.Lock()


@lru_cache(maxsize=4)
def _client_for(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis():
    url = settings.REDIS_URL
    if not url:
        return None
    with _clients_lock:
        return _client_for(url)


def reset_budget_clients() -> None:
    """Forget cached Redis clients (tests that switch REDIS_URL)."""
    with _clients_lock:
        _client_for.cache_clear()


def budget_firings(rule, now: datetime) -> list:
    """The alert check ``speech-budget``: engines that used ``rule.threshold`` percent of
    today's budget (characters or requests) or more, or sent briefings to the next engine."""
    from syncing.monitoring.alerts import Firing

    out = []
    for engine, limits in budgets().items():
        used_chars, used_requests = usage(engine, now.date())
        share = 100 * limits.share_used(used_chars, used_requests)
        row = SpeechSpend.objects.filter(day=now.date(), engine=engine).first()
        fallbacks = row.fallbacks if row else 0
        if share < rule.threshold and not fallbacks:
            continue
        cost = used_chars / 1_000_000 * limits.cost_per_million
        out.append(
            Firing(
                f"speech:{engine}",
                round(share, 1),
                f"speech engine {engine}: {share:.0f}% of today's budget used "
                f"({used_chars:,} characters, {used_requests:,} requests, about {cost:.2f} "
                f"spent); {fallbacks} briefing(s) went to the next engine (past "
                f"{fallback_share() * 100:.0f}%)",
            )
        )
    return out
