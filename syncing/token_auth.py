"""API tokens (knox), read with the owner's account in the same query.

Every signed-in API request is throttled by the owner's plan (syncing.throttling), which
lives on the account: knox's own lookup joins the user only, so each request paid one more
query for the plan. This is knox's ``authenticate_credentials`` (django-rest-knox 5.1.0)
with ``user__sync_account`` joined too; everything else is knox's.
"""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
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


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of knox's tokens (drf-spectacular matches exact classes)."""

    target_class = "syncing.token_auth.TokenAuthentication"
