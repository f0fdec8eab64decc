"""API tokens: a request checks its own token only; the hourly prune deletes expired ones."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from syncing.monitoring.rollups import prune

URL = "/api/v1/sync/tiers/"


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def expire(token: AuthToken) -> None:
    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))


def token_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "knox_authtoken" in q["sql"]]


@pytest.mark.django_db
def test_a_request_reads_its_own_token_and_not_the_owners_others(alice):
    _, key = AuthToken.objects.create(user=alice)
    for _ in range(3):
        AuthToken.objects.create(user=alice)
    with CaptureQueriesContext(connection) as queries:
        assert client_with(key).get(URL).status_code == 200
    # knox's own class also read every token of the owner, to delete the expired ones.
    sql = token_queries(queries)
    assert len(sql) == 1, sql
    assert "token_key" in sql[0]


@pytest.mark.django_db
def test_an_expired_token_is_refused_and_deleted(alice):
    token, key = AuthToken.objects.create(user=alice)
    expire(token)
    response = client_with(key).get(URL)
    assert response.status_code == 401
    assert not AuthToken.objects.filter(pk=token.pk).exists()


@pytest.mark.django_db
def test_other_expired_tokens_stay_until_the_hourly_prune_deletes_them(alice, bob):
    live, key = AuthToken.objects.create(user=alice)
    old, _ = AuthToken.objects.create(user=alice)
    bobs_old, _ = AuthToken.objects.create(user=bob)
    bobs_live, _ = AuthToken.objects.create(user=bob)
    forever, _ = AuthToken.objects.create(user=bob, expiry=None)
    expire(old)
    expire(bobs_old)
    assert client_with(key).get(URL).status_code == 200
    assert AuthToken.objects.filter(pk=old.pk).exists()  # not at request time any more
    prune()
    left = set(AuthToken.objects.values_list("pk", flat=True))
    assert left == {live.pk, bobs_live.pk, forever.pk}
    assert client_with(key).get(URL).status_code == 200
