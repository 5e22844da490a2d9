"""Every API request is authenticated by DRF's own classes, through the real ASGI server.

The attack this replaces: a hand-written ASGI fast path trusted any token string
that had once come with a request DRF answered 200, so a signed-in user could
turn a made-up token into a credential by sending it beside the session cookie.
"""

import pytest

from tests.dashboard.conftest import session_cookie_for
from tests.factories import UserFactory
from tests.security.tokens import issue_token, revoke_token
from tests.telemetry.test_api import ingest

pytestmark = pytest.mark.django_db(transaction=True)

FORGED = "Token " + "f" * 40
DEVICES = "/api/devices?site_id=WY-ALPHA"


@pytest.fixture
def sre(transactional_db):
    ingest()
    return UserFactory()


def test_a_forged_token_alone_is_refused(asgi_server, sre):
    with asgi_server.client() as client:
        for _ in range(3):
            assert client.get(DEVICES, headers={"Authorization": FORGED}).status_code in (401, 403)


def test_a_forged_token_sent_beside_a_session_cookie_does_not_become_a_credential(asgi_server, sre):
    cookie = session_cookie_for(sre)
    with asgi_server.client(cookies={"sessionid": cookie}) as signed_in:
        for _ in range(3):
            signed_in.get(DEVICES, headers={"Authorization": FORGED})
    with asgi_server.client() as anonymous:
        for _ in range(3):
            answer = anonymous.get(DEVICES, headers={"Authorization": FORGED})
            assert answer.status_code in (401, 403), answer.text
            assert "results" not in answer.text


def test_a_revoked_token_is_refused_at_once(asgi_server, sre):
    token = issue_token(sre)
    with asgi_server.client(headers={"Authorization": f"Token {token}"}) as client:
        for _ in range(3):  # the second and third answers come from the cache
            assert client.get(DEVICES).status_code == 200
        revoke_token(sre)
        assert client.get(DEVICES).status_code in (401, 403)


def test_a_deactivated_users_token_is_refused_at_once(asgi_server, sre):
    token = issue_token(sre)
    with asgi_server.client(headers={"Authorization": f"Token {token}"}) as client:
        for _ in range(3):
            assert client.get(DEVICES).status_code == 200
        sre.is_active = False
        sre.save(update_fields=["is_active"])
        assert client.get(DEVICES).status_code in (401, 403)
