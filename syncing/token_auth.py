"""API tokens (knox), read with the owner's account in the same query.

Every signed-in API request is throttled by the owner's plan (syncing.throttling), which
lives on the account: knox's own lookup joins the user only, so each request paid one more
query for the plan. This is knox's ``authenticate_credentials`` (django-rest-knox 5.1.0)
with ``user__sync_account`` joined too.

knox also read every other token of the owner on every request, to delete the expired ones
(``_cleanup_token``): one more query a request, about a seventh of an API list's CPU. Here a
request checks only its own token (refused and deleted once expired); the owners' other
expired tokens are deleted by the hourly prune (``delete_expired_tokens``).
"""

from __future__ import annotations

import binascii
from datetime import datetime
from hmac import compare_digest

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions


class TokenAuthentication(auth.TokenAuthentication):
    def authenticate_credentials(self, token):
        msg = _("Invalid token.")
        token = token.decode("utf-8")
        candidates = (
            get_token_model()
            .objects.filter(token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user", "user__sync_account")
        )  # an owner without one: the free plan
        for auth_token in candidates:
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(token)
            except (TypeError, binascii.Error):
                raise exceptions.AuthenticationFailed(msg)
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(msg)

    def _cleanup_token(self, auth_token) -> bool:
        """True (and the token deleted) when ``auth_token`` has expired; no query otherwise."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=self.__class__, username=username, source="auth_token")
        return True


def delete_expired_tokens(now: datetime | None = None) -> int:
    """Delete every API token past its expiry (the hourly prune); returns how many."""
    expired = get_token_model().objects.filter(expiry__lt=now or timezone.now())
    return expired.delete()[0]


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of knox's tokens (drf-spectacular matches exact classes)."""

    target_class = "syncing.token_auth.TokenAuthentication"
