"""The alarm row (issue 12, points 2 and 4): it polls while the briefing is being prepared,
a paused alarm has its own Resume button, Delete sits behind a question."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alarms.models import Alarm
from tests.alarms.conftest import make_alarm
from tests.support.worker import purge_broker

pytestmark = pytest.mark.django_db


def test_the_row_polls_while_preparing_and_resume_is_its_own_button(client, alice, bob):
    alarm = make_alarm(alice, label="Work")
    client.force_login(alice)
    html = client.get(f"/alarms/{alarm.pk}/row/").content.decode()
    assert "every 3s" not in html and "Resume" not in html
    assert '<details class="confirm"><summary>Delete…</summary>' in html
    Alarm.objects.filter(pk=alarm.pk).update(leased_until=timezone.now() + timedelta(minutes=1))
    html = client.get(f"/alarms/{alarm.pk}/row/").content.decode()
    assert "every 3s" in html and "Preparing its briefing" in html
    Alarm.objects.filter(pk=alarm.pk).update(
        leased_until=None, paused=True, pause_reason="Paused after 10 failures."
    )
    assert "Resume" in client.get("/alarms/").content.decode()
    client.force_login(bob)
    assert client.post(f"/alarms/{alarm.pk}/resume/").status_code == 404
    assert client.get(f"/alarms/{alarm.pk}/row/").status_code == 404
    client.force_login(alice)
    client.post(f"/alarms/{alarm.pk}/resume/")
    assert not Alarm.objects.get(pk=alarm.pk).paused
    purge_broker()
