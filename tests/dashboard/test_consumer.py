"""The live websocket through the real ASGI stack: auth, origin check, group relay."""

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from tier0site.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ALLOWED_ORIGIN = b"http://localhost"


def communicator(*, cookie: str | None = None, origin: bytes | None = ALLOWED_ORIGIN) -> WebsocketCommunicator:
    headers = [(b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


async def test_anonymous_socket_is_refused():
    ws = communicator()
    connected, _ = await ws.connect()
    assert connected is False
    await ws.disconnect()


async def test_signed_in_socket_is_accepted_and_greeted(ws_cookie):
    ws = communicator(cookie=ws_cookie)
    connected, _ = await ws.connect()
    assert connected is True
    hello = await ws.receive_json_from()
    assert hello["type"] == "hello"
    assert hello["user"] == "ws-sre"
    assert hello["staff"] is False
    assert {"telemetry", "sessions", "failover"} <= set(hello["groups"])
    await ws.disconnect()


async def test_foreign_origin_is_refused_even_when_signed_in(ws_cookie):
    ws = communicator(cookie=ws_cookie, origin=b"http://evil.example")
    connected, _ = await ws.connect()
    assert connected is False
    await ws.disconnect()


async def test_forged_session_cookie_is_refused():
    ws = communicator(cookie="not-a-real-session-key")
    connected, _ = await ws.connect()
    assert connected is False
    await ws.disconnect()


@pytest.mark.parametrize(
    ("group", "event"),
    [
        (
            "telemetry",
            {
                "type": "telemetry.update",
                "received": 12,
                "stored": 12,
                "dead_lettered": 0,
                "rate_per_s": 11.9,
                "groups": [["WY-ALPHA", "turbine"]],
                "alerts": [
                    {
                        "device_id": "TURB-000001",
                        "site_id": "WY-ALPHA",
                        "device_type": "turbine",
                        "state": "ALERT",
                        "code": "T-ALERT-VIB",
                        "message": "vibration high",
                        "timestamp_utc": "2026-11-27T02:00:00+00:00",
                    }
                ],
            },
        ),
        ("sessions", {"type": "sessions.update", "concurrent_users": 3}),
        ("failover", {"type": "failover.progress", "step": "promote", "status": "done", "duration_s": 0.21}),
    ],
)
async def test_group_events_reach_the_page_unchanged(ws_cookie, group, event):
    ws = communicator(cookie=ws_cookie)
    connected, _ = await ws.connect()
    assert connected
    await ws.receive_json_from()  # hello
    await get_channel_layer().group_send(group, event)
    assert await ws.receive_json_from(timeout=2) == event
    await ws.disconnect()


async def test_no_events_after_disconnect_and_ping_answered(ws_cookie):
    await get_channel_layer().flush()  # start from empty groups, whatever ran before
    ws = communicator(cookie=ws_cookie)
    await ws.connect()
    await ws.receive_json_from()
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()
    layer = get_channel_layer()
    # The group is empty again: the disconnected socket's channel was discarded.
    assert not any(layer.groups.get(g) for g in ("telemetry", "sessions", "failover"))
