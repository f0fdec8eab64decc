import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from syncing.models import Probe, SyncAttempt
from tests.syncing.factories import make_probes


@pytest.mark.django_db
def test_staff_see_tiers_attempts_and_probes(client, staff):
    client.force_login(staff)
    for url in [
        "/admin/syncing/tier/",
        "/admin/syncing/syncattempt/",
        "/admin/syncing/probe/",
        "/admin/syncing/probe/?sync_state=paused",
    ]:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_attempts_are_read_only_in_the_admin(client, staff):
    from django.utils import timezone

    attempt = SyncAttempt.objects.create(
        kind="syncing.probe", item_id=1, outcome="ok", started_at=timezone.now()
    )
    client.force_login(staff)
    assert client.get("/admin/syncing/syncattempt/add/").status_code == 403
    page = client.get(f"/admin/syncing/syncattempt/{attempt.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


@pytest.mark.django_db
def test_pause_resume_and_change_tier_actions(client, staff):
    probes = make_probes(2)
    pks = [p.pk for p in probes]
    client.force_login(staff)
    client.post("/admin/syncing/probe/", {"action": "pause_action", ACTION_CHECKBOX_NAME: pks})
    assert Probe.objects.filter(paused=True).count() == 2
    client.post("/admin/syncing/probe/", {"action": "resume_action", ACTION_CHECKBOX_NAME: pks})
    assert Probe.objects.filter(paused=False).count() == 2
    page = client.post(
        "/admin/syncing/probe/", {"action": "change_tier_action", ACTION_CHECKBOX_NAME: pks}
    )
    assert b"Change tier" in page.content
    client.post(
        "/admin/syncing/probe/",
        {"action": "change_tier_action", ACTION_CHECKBOX_NAME: pks, "tier": "1h"},
    )
    assert set(Probe.objects.values_list("tier", flat=True)) == {"1h"}
