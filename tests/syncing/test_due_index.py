"""The due index is declared once, on the abstract SyncedItem: every kind gets it, named
after its own table, so a new kind cannot forget it."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Q

from syncing.models import SyncedItem


def test_every_synced_item_has_the_partial_due_index_named_after_its_model():
    kinds = [m for m in apps.get_models() if issubclass(m, SyncedItem)]
    assert {m._meta.label for m in kinds} >= {
        "calendars.Feed",
        "market.Product",
        "alarms.Alarm",
        "syncing.Probe",
    }
    for model in kinds:
        due = [i for i in model._meta.indexes if i.name.endswith("_due")]
        assert len(due) == 1, model
        index = due[0]
        assert index.name == f"{model._meta.app_label}_{model._meta.model_name}_due"
        assert index.fields == ["tier", "next_sync_at"]
        assert index.condition == Q(paused=False)


def test_a_model_with_its_own_indexes_keeps_both():
    names = {i.name for i in apps.get_model("alarms", "Alarm")._meta.indexes}
    assert names == {"alarms_alarm_due", "alarms_alarm_owner"}
