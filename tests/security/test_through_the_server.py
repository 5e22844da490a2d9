"""Least privilege and lockout through the real ASGI server (uvicorn), as an attacker meets them.

The same rules are tested in depth through Django's test client next door
(test_least_privilege.py, test_lockout_and_throttles.py); here they are shown
on the server people run, with real HTTP, cookies and CSRF.
"""

import re

import pytest
from django.utils import timezone

from imaging.models import ImageRecord
from tests.factories import UserFactory
from tests.security.tokens import issue_token

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"  # UserFactory's


def _image() -> ImageRecord:
    return ImageRecord.objects.create(
        path="/seed/TurbineImages/T1.jpg", filename="T1.jpg", device_type="turbine", site_id="WY-ALPHA",
        content_hash="1" * 64, processed_at=timezone.now(),
    )  # fmt: skip


def test_a_viewers_image_review_is_403_and_a_staff_review_is_taken(asgi_server):
    image = _image()
    viewer, staff = UserFactory(), UserFactory(is_staff=True)
    with asgi_server.client(headers={"Authorization": f"Token {issue_token(viewer)}"}) as client:
        answer = client.patch(f"/api/images/{image.pk}", json={"persons": 7})
        assert answer.status_code == 403, answer.text
        assert "staff" in answer.json()["error"]
    image.refresh_from_db()
    assert not image.reviewed and image.persons == 0
    with asgi_server.client(headers={"Authorization": f"Token {issue_token(staff)}"}) as client:
        assert client.patch(f"/api/images/{image.pk}", json={"persons": 7}).status_code == 200
    image.refresh_from_db()
    assert image.reviewed and image.persons == 7


def _dashboard_login(asgi_server, username: str, password: str) -> bool:
    """Sign in on the login page as a browser does (GET for the CSRF cookie and field, then POST)."""
    with asgi_server.client() as browser:
        page = browser.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{asgi_server.base_url}/accounts/login/"},
        )
        return answer.status_code == 302 and "sessionid" in browser.cookies


def _token_login(asgi_server, username: str, password: str) -> bool:
    with asgi_server.client() as client:
        answer = client.post("/api/auth/login", json={"username": username, "password": password})
        return answer.status_code == 200 and "token" in answer.json()


@pytest.mark.parametrize("login", [_dashboard_login, _token_login], ids=["dashboard", "token"])
def test_the_sixth_try_after_five_wrong_passwords_is_refused_even_when_right(asgi_server, login):
    user = UserFactory(is_staff=True)
    assert login(asgi_server, user.username, PASSWORD)  # the account works
    for _ in range(5):
        assert not login(asgi_server, user.username, "wrong-password-123")
    assert not login(asgi_server, user.username, PASSWORD)
