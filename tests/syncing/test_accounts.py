"""Owners' accounts through the pages: sign-up (and the setting that closes it), password
change, password reset by email, and the branded 404 and 500 pages."""

from __future__ import annotations

import re
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import path

from syncing.models import Account, Plan
from tests.conftest import make_owner

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new staple battery"


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom)]  # for the 500 page test (pytest.mark.urls)


def can_log_in(email: str, password: str) -> bool:
    response = Client().post("/login/", {"username": email, "password": password})
    return response.status_code == 302


def test_sign_up_creates_an_owner_on_the_free_plan_and_logs_them_in(client):
    response = client.post(
        "/signup/",
        {"email": "Dana@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    user = get_user_model().objects.get(username="dana@example.com")
    assert user.email == "dana@example.com" and not user.is_staff
    assert Account.objects.get(user=user).plan == Plan.FREE
    assert client.get("/dashboard/").status_code == 200
    assert can_log_in("dana@example.com", PASSWORD)


def test_sign_up_says_what_is_wrong_next_to_the_field(client):
    make_owner("alice@example.com")
    response = client.post(
        "/signup/", {"email": "ALICE@example.com", "password1": "short", "password2": "short"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_email_error"' in html and "already exists" in html
    assert 'id="id_password1_error"' in html and "too short" in html
    response = client.post(
        "/signup/", {"email": "erin@example.com", "password1": PASSWORD, "password2": "other"}
    )
    assert 'id="id_password2_error"' in response.content.decode()
    assert not get_user_model().objects.filter(username="erin@example.com").exists()


def test_sign_up_can_be_turned_off(client, settings):
    assert "Create an account" in client.get("/login/").content.decode()
    assert 'href="/signup/"' in client.get("/").content.decode()
    settings.SIGNUP_ENABLED = False
    assert 'href="/signup/"' not in client.get("/").content.decode()
    assert client.get("/signup/").status_code == 404
    response = client.post(
        "/signup/", {"email": "dana@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="dana@example.com").exists()
    assert "Create an account" not in client.get("/login/").content.decode()


def test_an_owner_changes_their_password(client):
    alice = make_owner("alice@example.com")
    client.force_login(alice)
    assert "Change your password" in client.get("/account/password/").content.decode()
    response = client.post(
        "/account/password/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert 'id="id_old_password_error"' in response.content.decode()
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password changed" in response.content.decode()
    assert client.get("/dashboard/").status_code == 200  # still logged in here
    assert can_log_in("alice@example.com", NEW_PASSWORD)
    assert not can_log_in("alice@example.com", PASSWORD)


def test_a_forgotten_password_is_reset_by_email_once(client, settings):
    settings.SITE_URL = "https://syncbeat.example"
    make_owner("alice@example.com")
    assert "Forgot your password?" in client.get("/login/").content.decode()
    response = client.post("/password-reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert "Check your email" in client.get(response["Location"]).content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    assert mail.outbox[0].subject == "Reset your Syncbeat password"
    # The link goes to SITE_URL, whatever Host the request named.
    link = re.search(r"https://syncbeat\.example(/password-reset/\S+/)", mail.outbox[0].body)[1]

    form_url = client.get(link)["Location"]  # Django hides the token behind a redirect
    assert "Choose a new password" in client.get(form_url).content.decode()
    response = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert "Password saved" in response.content.decode()
    assert can_log_in("alice@example.com", NEW_PASSWORD)
    # The link works once.
    assert "no longer works" in Client().get(link, follow=True).content.decode()


def test_a_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client):
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_the_404_page_is_ours_with_a_way_back(client):
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and "Syncbeat" in html and 'href="/"' in html
    client.force_login(make_owner("alice@example.com"))
    assert 'href="/dashboard/"' in client.get("/no/such/page/").content.decode()


@pytest.mark.urls(__name__)
def test_the_500_page_is_ours_with_a_way_back():
    response = Client(raise_request_exception=False).get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html and 'href="/"' in html


def fresh_address() -> str:
    """An address of this test's own: the limiter may keep its windows in Redis across runs."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def test_sign_ups_from_one_address_are_limited(client, settings):
    settings.ACCOUNT_REQUESTS_PER_ADDRESS = "2/hour"
    address = fresh_address()
    for n in range(2):
        data = {"email": f"u{n}@example.com", "password1": PASSWORD, "password2": PASSWORD}
        assert Client(REMOTE_ADDR=address).post("/signup/", data).status_code == 302
    data = {"email": "u3@example.com", "password1": PASSWORD, "password2": PASSWORD}
    refused = Client(REMOTE_ADDR=address).post("/signup/", data)
    assert refused.status_code == 429
    assert "Too many requests from your address; try again in" in refused.content.decode()
    assert not get_user_model().objects.filter(username="u3@example.com").exists()
    # Another address is not held up.
    assert Client(REMOTE_ADDR=fresh_address()).post("/signup/", data).status_code == 302


def test_reset_emails_from_one_address_are_limited(settings):
    make_owner("alice@example.com")
    settings.ACCOUNT_REQUESTS_PER_ADDRESS = "2/hour"
    client = Client(REMOTE_ADDR=fresh_address())
    for _ in range(2):
        assert client.post("/password-reset/", {"email": "alice@example.com"}).status_code == 302
    refused = client.post("/password-reset/", {"email": "alice@example.com"})
    assert refused.status_code == 429 and "Too many requests" in refused.content.decode()
    assert len(mail.outbox) == 2
