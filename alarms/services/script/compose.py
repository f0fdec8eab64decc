"""Composing the script from its sections; a failing section is left out, and logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from alarms.services.script.context import ScriptContext
from alarms.services.script.sections import SECTIONS

logger = logging.getLogger(__name__)

MAX_SCRIPT_CHARS = 4000  # speech APIs cap the input (OpenAI: 4096)


@dataclass
class Script:
    text: str
    parts: list[str] = field(default_factory=list)  # each used section's text, in order
    used: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def compose_script(alarm, ring_at: datetime, *, sections=SECTIONS) -> Script:
    """The briefing text for ``alarm`` ringing at ``ring_at`` (UTC).

    Each enabled section runs on its own: one that raises (a missing app, a bad row) is
    left out and logged; the briefing never fails because of a section.
    """
    ctx = ScriptContext(alarm=alarm, owner=alarm.owner, ring_at=ring_at)
    parts: list[str] = []
    script = Script(text="")
    for name, section in sections:
        if not alarm.section_enabled(name):
            continue
        try:
            text = section(ctx)
        except Exception:  # a section must never fail the briefing
            logger.warning("alarm #%s: section %s failed, left out", alarm.pk, name, exc_info=True)
            script.failed.append(name)
            continue
        if text:
            parts.append(text.strip())
            script.used.append(name)
    script.text = " ".join(parts)[:MAX_SCRIPT_CHARS]
    script.parts = parts
    return script
