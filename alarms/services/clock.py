"""The alarms' clock: the real time, or a simulated one for the benchmark.

``settings.ALARMS_FAKE_CLOCK`` (unset in every real deployment) is
``"<real epoch>,<simulated epoch>,<speed>"``: from the real instant ``real epoch`` on, the
clock reads ``simulated epoch + (real - real epoch) * speed``. The benchmark starts its
workers with a settings module that sets it, so workers, the sweep and the dispatcher all
agree on the simulated time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.utils import timezone


@lru_cache(maxsize=4)
def _parse(spec: str) -> tuple[float, float, float]:
    real, simulated, speed = (float(part) for part in spec.split(","))
    return real, simulated, speed


def now() -> datetime:
    """The current instant (aware, UTC) as the alarms see it."""
    spec = settings.ALARMS_FAKE_CLOCK
    if not spec:
        return timezone.now()
    real, simulated, speed = _parse(spec)
    return datetime.fromtimestamp(simulated + (time.time() - real) * speed, tz=UTC)
