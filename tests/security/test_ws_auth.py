"""A live websocket closes once its sign-in ends: logout, deactivation, password change."""

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session

from dashboard.ws_auth import CLOSE_SIGNED_OUT
from tests.dashboard.conftest import session_cookie_for
from tests.factories import UserFactory
from tier0site.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_recheck(settings, monkeypatch):
    from django.db import connections

    settings.WS_AUTH_RECHECK_S = 0.2
    # Re-checks run on Channels' worker threads: their connections must not outlive the test.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_connections():
    yield
    from django.db import connections

    # The re-checks ran on the thread-sensitive worker thread: close its connection there.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def signed_in(transactional_db):
    user = UserFactory()
    return user, session_cookie_for(user)


async def _open(cookie: str) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode())]
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return ws


async def _closed_code(ws: WebsocketCommunicator) -> int:
    message = await ws.receive_output(timeout=10)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def test_a_socket_stays_open_while_the_sign_in_holds(signed_in):
    _, cookie = signed_in
    ws = await _open(cookie)
    # Several re-checks pass (0.2 s each); the socket still answers.
    for _ in range(3):
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
        assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_logging_out_closes_the_socket(signed_in):
    _, cookie = signed_in
    ws = await _open(cookie)
    await sync_to_async(Session.objects.filter(session_key=cookie).delete)()  # what logout does to the session
    assert await _closed_code(ws) == CLOSE_SIGNED_OUT
    await ws.disconnect()


async def test_deactivating_the_user_closes_the_socket(signed_in):
    user, cookie = signed_in
    ws = await _open(cookie)
    user.is_active = False
    await sync_to_async(user.save)(update_fields=["is_active"])
    assert await _closed_code(ws) == CLOSE_SIGNED_OUT
    await ws.disconnect()


async def test_changing_the_password_closes_the_socket(signed_in):
    user, cookie = signed_in
    ws = await _open(cookie)
    user.set_password("A-new-password-for-2026")
    await sync_to_async(user.save)()
    assert await _closed_code(ws) == CLOSE_SIGNED_OUT
    await ws.disconnect()
