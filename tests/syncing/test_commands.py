import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from knox.auth import TokenAuthentication

from syncing.models import Account
from tests.syncing.factories import make_probes


@pytest.mark.django_db
def test_syncnow_runs_one_item_inline_and_prints_the_attempt_as_json():
    probe = make_probes(1)[0]
    out = StringIO()
    call_command("syncnow", "syncing.probe", str(probe.pk), stdout=out)
    attempt = json.loads(out.getvalue())
    assert attempt["kind"] == "syncing.probe"
    assert attempt["item_id"] == probe.pk
    assert attempt["outcome"] == "ok"


@pytest.mark.django_db
def test_syncnow_names_an_unknown_kind_or_item():
    with pytest.raises(CommandError, match="unknown kind 'nope.thing'"):
        call_command("syncnow", "nope.thing", "1")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("syncnow", "syncing.probe", "999999")


@pytest.mark.django_db
def test_createowner_prints_a_working_api_token_on_its_last_line():
    out = StringIO()
    call_command(
        "createowner", "Dana@Example.com", "--plan", "pro", "--password", "s3cret-pass", stdout=out
    )
    token = out.getvalue().strip().splitlines()[-1]
    user = get_user_model().objects.get(username="dana@example.com")
    assert Account.objects.get(user=user).plan == "pro"
    assert user.check_password("s3cret-pass")
    authed_user, _ = TokenAuthentication().authenticate_credentials(token.encode())
    assert authed_user == user
    assert "s3cret-pass" not in out.getvalue()


@pytest.mark.django_db
def test_createowner_refuses_a_bad_email():
    with pytest.raises(CommandError, match="not an email"):
        call_command("createowner", "not-an-email")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG: expected true or false"),
        ("SYNC_LEASE_SECONDS", "soon", "SYNC_LEASE_SECONDS: expected an integer"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL"),
        ("CELERY_BROKER_URL", "http://broker", "CELERY_BROKER_URL: expected a URL"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(tmp_path, variable, value, message):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SYNCBEAT_VAR_DIR": str(tmp_path),
        variable: value,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_a_plan_change_moves_the_owners_items_to_the_plans_tier(alice, bob, temporary_kind):
    from dataclasses import replace
    from datetime import timedelta

    from django.utils import timezone

    from syncing.kinds import get_kind
    from syncing.models import Probe
    from syncing.plans import account_set_plan

    original = get_kind("syncing.probe")
    temporary_kind(replace(original, plan_tiers={"free": "1h", "business": "1m"}))
    far = timezone.now() + timedelta(minutes=50)
    mine = make_probes(3, tier="1h", owner=alice, due=far)
    theirs = make_probes(1, tier="1h", owner=bob, due=far)[0]
    account_set_plan(alice, "business")
    assert Account.objects.get(user=alice).plan == "business"
    soon = timezone.now() + timedelta(minutes=1, seconds=1)
    for probe in Probe.objects.filter(pk__in=[p.pk for p in mine]):
        assert probe.tier == "1m" and probe.next_sync_at <= soon
    theirs.refresh_from_db()
    assert theirs.tier == "1h" and theirs.next_sync_at == far
    with pytest.raises(ValueError, match="unknown plan"):
        account_set_plan(alice, "platinum")


@pytest.mark.django_db
def test_manual_syncs_are_counted_per_owner_against_the_plan(charlie, alice):
    from syncing.plans import allowance_for, manual_sync_take

    allowed = allowance_for(charlie).manual_syncs_per_hour  # free plan: 2
    answers = [manual_sync_take(charlie) for _ in range(allowed + 1)]
    assert [ok for ok, _ in answers] == [True] * allowed + [False]
    assert 0 < answers[-1][1] <= 3600
    assert manual_sync_take(alice)[0], "another owner's count is their own"
