import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from knox.models import AuthToken

from syncing.models import Plan
from syncing.plans import account_set_plan


class Command(BaseCommand):
    help = "Create an owner (or update an existing one) and print a new API token on the last line."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--plan", choices=Plan.values, default=Plan.FREE)
        parser.add_argument("--password", help="default: a random password, printed")
        parser.add_argument("--staff", action="store_true", help="also a staff superuser")

    def handle(self, email, plan, password=None, staff=False, **options):
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"not an email address: {email!r}")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
        printed_password = None
        if password or created:
            printed_password = password or secrets.token_urlsafe(12)
            user.set_password(printed_password)
        if staff:
            user.is_staff = user.is_superuser = True
        user.save()
        account_set_plan(user, plan)
        _, key = AuthToken.objects.create(user=user)
        self.stdout.write(f"{'created' if created else 'updated'} owner {email} on plan {plan}")
        if printed_password and not password:
            self.stdout.write(f"password: {printed_password}")
        self.stdout.write(key)
