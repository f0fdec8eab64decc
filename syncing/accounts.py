"""Owners' own accounts: sign-up (off with SIGNUP_ENABLED=false), password change and reset by
email (Django's views with our templates, under the names Django's views expect)."""

from __future__ import annotations

import time
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login, password_validation
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.utils import timezone

from syncing import humane
from syncing.clientip import client_ip
from syncing.models import Account, Plan
from syncing.ratelimit import RateLimitWait, get_limiter
from syncing.validation import has_control_characters


class SignUpForm(forms.Form):
    email = forms.EmailField(max_length=150, widget=forms.EmailInput(attrs={"autofocus": True}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common password.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if has_control_characters(email):
            raise forms.ValidationError("Enter a valid email address.")
        if get_user_model().objects.filter(username__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email already exists: log in, or reset its password."
            )
        return email

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            user = get_user_model()(username=cleaned.get("email", ""), email=cleaned.get("email"))
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def account_sign_up(email: str, password: str):
    """A new owner on the free plan, able to log in at once."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=email, email=email, password=password)
        Account.objects.create(user=user, plan=Plan.FREE)
    return user


def too_many_requests(request: HttpRequest, action: str) -> str | None:
    """Takes one of the address's account requests (ACCOUNT_REQUESTS_PER_ADDRESS); the
    message to show when none is left, else None."""
    key = f"accounts:{action}:{client_ip(request)}"
    try:
        limit = settings.ACCOUNT_REQUESTS_PER_ADDRESS
        get_limiter().acquire(key, limit, deadline_at=time.monotonic())
    except RateLimitWait as wait:
        free_at = timezone.now() + timedelta(seconds=wait.wait)
        return f"Too many requests from your address; try again {humane.until(free_at)}."
    return None


def signup(request: HttpRequest) -> HttpResponse:
    if not settings.SIGNUP_ENABLED:
        raise Http404("Sign-up is closed.")
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        refused = too_many_requests(request, "signup")
        if refused:
            form.is_valid()  # bound errors stay shown beside the refusal
            form.add_error(None, refused)
            return render(request, "registration/signup.html", {"form": form}, status=429)
        if form.is_valid():
            user = account_sign_up(form.cleaned_data["email"], form.cleaned_data["password1"])
            login(request, user, backend="syncing.auth.EmailBackend")
            return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with a limit on the emails one address can have sent, and links to
    SITE_URL (never to whatever Host header the request came with)."""

    def form_valid(self, form):
        refused = too_many_requests(self.request, "password-reset")
        if refused:
            form.add_error(None, refused)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


urlpatterns = [
    path("signup/", signup, name="signup"),
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("password_change_done")),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password-reset/", PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
