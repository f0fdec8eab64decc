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
