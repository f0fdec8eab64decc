"""alarms 0003: briefings stored before issue 14 keep their audio, as one clip each."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("alarms", "0002_tier_named_after_interval")]
AFTER = [("alarms", "0003_content_addressed_audio")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_briefing_files_become_clips_and_the_budget_rule_exists(alice):
    old = migrate(BEFORE)
    try:
        alarm = old.get_model("alarms", "Alarm").objects.create(
            owner_id=alice.pk, time=time(7), timezone="Europe/Berlin", days=[0], tier="1d"
        )
        name = default_storage.save("alarms/old/briefing.wav", ContentFile(b"RIFF....WAVE"))
        old.get_model("alarms", "Briefing").objects.create(
            alarm=alarm,
            ring_at=datetime(2025, 6, 2, 5, tzinfo=UTC),
            status="ready",
            audio=name,
            engine="espeak-ng",
            duration_ms=900,
        )
        new = migrate(AFTER)
        briefing = new.get_model("alarms", "Briefing").objects.select_related("clip").get()
        assert briefing.clip.file.name == name and briefing.clip.duration_ms == 900
        rule = new.get_model("syncing", "AlertRule").objects.get(key="speech-budget")
        assert rule.metric == "app_check"
    finally:
        migrate([("alarms", "0003_content_addressed_audio")])
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
