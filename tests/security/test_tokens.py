"""API tokens: issued by sign-in, hashed, expiring, listed and revoked by their owner only."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.authentication import RETIRED_MESSAGE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # UserFactory's


def login(client, username, password=PASSWORD):
    return client.post("/api/auth/login", {"username": username, "password": password}, format="json")


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_sign_in_issues_a_hashed_expiring_token_that_authenticates(user):
    answer = login(APIClient(), user.username)
    assert answer.status_code == 200, answer.content
    token = answer.json()["token"]
    stored = AuthToken.objects.get(user=user)
    assert token not in (stored.digest, stored.token_key)  # only a digest is kept
    assert stored.expiry > timezone.now() + timedelta(hours=1)
    assert token_client(token).get("/api/sites").status_code == 200


def test_a_wrong_password_gets_no_token(user):
    answer = login(APIClient(), user.username, "wrong-password")
    assert answer.status_code == 401
    assert answer.json()["error"] == "Wrong username or password."
    assert not AuthToken.objects.exists()


def test_an_expired_token_is_refused(user):
    token = login(APIClient(), user.username).json()["token"]
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    assert token_client(token).get("/api/sites").status_code in (401, 403)


def test_owner_lists_and_revokes_own_tokens_only(user):
    first = login(APIClient(), user.username).json()
    second = login(APIClient(), user.username).json()
    client = token_client(second["token"])
    listed = client.get("/api/auth/tokens").json()["results"]
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert [t["current"] for t in listed if t["id"] == second["id"]] == [True]
    assert all("token" not in t and "digest" not in t for t in listed)

    other = UserFactory()
    other_token = login(APIClient(), other.username).json()
    assert client.delete(f"/api/auth/tokens/{other_token['id']}").status_code == 404  # not yours
    assert token_client(other_token["token"]).get("/api/sites").status_code == 200

    assert client.delete(f"/api/auth/tokens/{first['id']}").status_code == 204
    assert token_client(first["token"]).get("/api/sites").status_code in (401, 403)
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/sites").status_code in (401, 403)


def test_a_retired_plain_token_gets_a_clear_message(db):
    answer = token_client("0123456789abcdef0123456789abcdef01234567").get("/api/sites")
    assert answer.status_code in (401, 403)
    assert answer.json()["error"] == RETIRED_MESSAGE


def test_token_limit_drops_the_oldest(user, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": 2}
    tokens = [login(APIClient(), user.username).json()["token"] for _ in range(3)]
    assert AuthToken.objects.filter(user=user).count() == 2
    assert token_client(tokens[0]).get("/api/sites").status_code in (401, 403)
    assert token_client(tokens[2]).get("/api/sites").status_code == 200
