"""Lockout after 5 consecutive failures (dashboard, admin, token sign-in), password rules, throttles."""

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # UserFactory's


def dashboard_login(client, username, password):
    answer = client.post("/accounts/login/", {"username": username, "password": password})
    return answer.status_code == 302 and "_auth_user_id" in client.session


def admin_login(client, username, password):
    answer = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return answer.status_code == 302 and "_auth_user_id" in client.session


def token_login(client, username, password):
    answer = APIClient().post("/api/auth/login", {"username": username, "password": password}, format="json")
    return answer.status_code == 200 and "token" in answer.json()


@pytest.mark.parametrize("login", [dashboard_login, admin_login, token_login], ids=["dashboard", "admin", "token"])
def test_the_sixth_try_after_five_wrong_passwords_is_refused_even_when_right(login):
    user = UserFactory(is_staff=True)
    client = Client()
    for _ in range(5):
        assert not login(client, user.username, "wrong-password-123")
    assert not login(Client(), user.username, PASSWORD)
    # Another account from the same address is not locked: the pair (username, address) is.
    other = UserFactory(is_staff=True)
    assert login(Client(), other.username, PASSWORD)


def test_the_lockout_answer_says_why(user):
    for _ in range(5):
        APIClient().post("/api/auth/login", {"username": user.username, "password": "nope-nope-nope"}, format="json")
    answer = APIClient().post("/api/auth/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert answer.status_code in (403, 429)
    assert "locked out" in answer.content.decode()


def test_failures_must_be_consecutive(user):
    client = Client()
    for _ in range(4):
        assert not dashboard_login(client, user.username, "wrong-password-123")
    assert dashboard_login(Client(), user.username, PASSWORD)  # resets the count
    for _ in range(4):
        assert not dashboard_login(Client(), user.username, "wrong-password-123")
    assert dashboard_login(Client(), user.username, PASSWORD)


@pytest.mark.parametrize("weak", ["abc", "password123", "12345678901234", "short-1"])
def test_create_sre_user_refuses_weak_passwords(monkeypatch, weak):
    monkeypatch.setenv("SRE_USER_PASSWORD", weak)
    with pytest.raises(CommandError, match="password refused"):
        call_command("create_sre_user", "ADMIN1")


def test_questions_have_a_tighter_throttle_than_the_rest(api_client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "query", "2/min")
    for _ in range(2):
        assert api_client.post("/api/query", {"question": ""}, format="json").status_code == 400  # counted, then refused
    answer = api_client.post("/api/query", {"question": "How many incidents in 2024?"}, format="json")
    assert answer.status_code == 429
    assert "throttled" in answer.json()["error"].lower()
    assert api_client.get("/api/sites").status_code == 200  # the user rate is not spent


def test_anonymous_clients_are_throttled(monkeypatch):
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setitem(AnonRateThrottle.THROTTLE_RATES, "anon", "3/min")
    answers = [APIClient().get("/api/version").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_exempt_users_skip_the_user_rate(settings, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "2/min")
    bench, other = UserFactory(username="bench"), UserFactory()
    settings.API_THROTTLE_EXEMPT_USERS = ["bench"]
    for user, expected in ((bench, [200] * 4), (other, [200, 200, 429, 429])):
        client = APIClient()
        client.force_authenticate(user)
        assert [client.get("/api/sites").status_code for _ in range(4)] == expected
