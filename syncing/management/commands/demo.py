from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from knox.models import AuthToken

from syncing.demo import seeders
from syncing.models import Account, Plan

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-syncbeat"  # noqa: S105 - a published demo credential, local only


class Command(BaseCommand):
    help = "Create the demo owner and a few items of every kind (idempotent)."

    def handle(self, **options):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_EMAIL,
            defaults={
                "email": DEMO_EMAIL,
                "first_name": "Demo",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        Account.objects.update_or_create(user=user, defaults={"plan": Plan.BUSINESS})
        for name, seeder in seeders():
            count = seeder(user)
            self.stdout.write(f"demo {name}: {count or 0} item(s)")
        token = AuthToken.objects.filter(user=user).first()
        if token is None or created:
            _, key = AuthToken.objects.create(user=user)
            (self._token_file()).write_text(key)
        else:
            key = self._token_file().read_text().strip() if self._token_file().exists() else None
            if not key:
                _, key = AuthToken.objects.create(user=user)
                self._token_file().write_text(key)
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Open http://127.0.0.1:8000 and log in as {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
                f"  (staff too: http://127.0.0.1:8000/admin/)\n"
                f"  API token: {key}\n"
                f"  e.g. curl -H 'Authorization: Token {key}' http://127.0.0.1:8000/api/v1/sync/tiers/\n"
            )
        )

    def _token_file(self):
        from django.conf import settings

        return settings.VAR_DIR / "demo_token"
