"""What every section function receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass
class ScriptContext:
    alarm: object  # alarms.models.Alarm (kept loose so sections can be tested with stand-ins)
    owner: object
    ring_at: datetime  # UTC

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.alarm.timezone)

    @cached_property
    def local(self) -> datetime:
        """The ring in the alarm's zone: the day and hour the briefing talks about."""
        return self.ring_at.astimezone(self.zone)
