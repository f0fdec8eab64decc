"""The two logins with their throttle messages: the login page and the API's HTTP Basic
exchange for a token. Failures are counted by syncing.auth.EmailBackend."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from drf_spectacular.authentication import BasicScheme
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from syncing.throttling import LoginThrottled, check_login_allowed
from syncing.validation import has_control_characters


class ThrottledLoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your email and password did not match. Please try again.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if has_control_characters(username):
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        try:
            check_login_allowed(self.request, username)
        except LoginThrottled as throttled:
            self.retry_after = throttled.wait
            raise forms.ValidationError(throttled.message, code="throttled")
        return super().clean()


class ThrottledLoginView(LoginView):
    form_class = ThrottledLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_enabled": settings.SIGNUP_ENABLED}

    def form_invalid(self, form):
        response = super().form_invalid(form)
        wait = getattr(form, "retry_after", None)
        if wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response


class ThrottledBasicAuthentication(BasicAuthentication):
    """HTTP Basic for the token exchange: 429 with Retry-After while the account or the
    address is locked out; control characters in the credentials are a 401."""

    def authenticate_credentials(self, userid, password, request=None):
        if has_control_characters(userid) or "\x00" in password:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        try:
            check_login_allowed(request, userid)
        except LoginThrottled as throttled:
            error = exceptions.Throttled(wait=throttled.wait)
            error.detail = exceptions.ErrorDetail(throttled.message, code="throttled")
            raise error
        return super().authenticate_credentials(userid, password, request)


class ThrottledBasicScheme(BasicScheme):
    """The OpenAPI schema shows the throttled HTTP Basic login as plain HTTP Basic."""

    target_class = ThrottledBasicAuthentication
