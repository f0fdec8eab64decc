"""Owners sign in with their email address (stored as the username, lower-cased).

Every login path (the login page, the admin, the API's HTTP Basic login) goes through this
backend, so failed logins are counted and throttled in one place (syncing.throttling).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from syncing.throttling import clear_login_failures, login_wait, record_login_failure
from syncing.validation import has_control_characters


class EmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        email = (username or kwargs.get("email") or "").strip().lower()
        if not email or password is None:
            return None
        if has_control_characters(email) or "\x00" in password:
            record_login_failure(request, None)  # counts against the address only
            return None
        if login_wait(request, email) is not None:
            raise PermissionDenied("too many failed logins")  # stops every backend
        user = self._check(email, password)
        if user is None:
            record_login_failure(request, email)
        else:
            clear_login_failures(email)
        return user

    def _check(self, email: str, password: str):
        user_model = get_user_model()
        user = user_model.objects.filter(username__iexact=email).first()
        if user is None:
            user_model().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
