"""``manage.py demo``: the demo owner (not staff), a separate staff login, an API token for the
owner and a few items of every kind; idempotent. What a first run needs to print is written to
``var/demo.json`` (read by ``bin/run`` for its ready block)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from knox.models import AuthToken
from knox.settings import CONSTANTS

from syncing.demo import seeders
from syncing.models import Account, Plan

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-syncbeat"  # noqa: S105 - a published demo credential, local only
STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = "staff-syncbeat"  # noqa: S105 - a published demo credential, local only


def ensure_user(email: str, password: str, *, staff: bool, first_name: str):
    """The user with that email, created with the password; staff flags kept as asked."""
    user, created = get_user_model().objects.get_or_create(
        username=email, defaults={"email": email, "first_name": first_name}
    )
    if created:
        user.set_password(password)
    user.is_staff = user.is_superuser = staff
    user.save()
    return user


class Command(BaseCommand):
    help = "Create the demo owner, a staff login and a few items of every kind (idempotent)."

    def handle(self, **options):
        owner = ensure_user(DEMO_EMAIL, DEMO_PASSWORD, staff=False, first_name="Demo")
        ensure_user(STAFF_EMAIL, STAFF_PASSWORD, staff=True, first_name="Staff")
        Account.objects.update_or_create(user=owner, defaults={"plan": Plan.BUSINESS})
        for name, seeder in seeders():
            count = seeder(owner)
            self.stdout.write(f"demo {name}: {count or 0} item(s)")
        key = self._token(owner)
        (settings.VAR_DIR / "demo.json").write_text(
            json.dumps(
                {
                    "owner": {"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
                    "staff": {"email": STAFF_EMAIL, "password": STAFF_PASSWORD},
                    "token": key,
                },
                indent=2,
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"demo owner {DEMO_EMAIL} / {DEMO_PASSWORD}, "
                f"staff {STAFF_EMAIL} / {STAFF_PASSWORD}, API token {key}"
            )
        )

    def _token(self, owner) -> str:
        """The owner's demo token: the one written last time while it still exists, else new."""
        path = settings.VAR_DIR / "demo_token"
        key = path.read_text().strip() if path.exists() else ""
        prefix = key[: CONSTANTS.TOKEN_KEY_LENGTH]
        if not key or not AuthToken.objects.filter(user=owner, token_key=prefix).exists():
            _, key = AuthToken.objects.create(user=owner)
            path.write_text(key)
        return key
