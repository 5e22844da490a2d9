"""The one list of live events: the publisher coalesces, the websocket and the page follow the list."""

import asyncio
import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from dashboard.consumers import LiveConsumer
from tier0site import live


@pytest.fixture
def listener():
    """A channel in the (in-memory) layer that joined one group; returns what arrived."""
    layer = get_channel_layer()

    def listen(group: str):
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(group, channel)

        def received() -> list[dict]:
            messages = []
            while True:
                try:
                    messages.append(async_to_sync(_receive_now)(layer, channel))
                except TimeoutError:
                    return messages

        return received

    return listen


async def _receive_now(layer, channel):
    return await asyncio.wait_for(layer.receive(channel), 0.2)


def test_many_adds_become_one_merged_event_per_interval(listener):
    received = listener(live.IMAGES.group)
    publisher = live.Publisher(
        live.IMAGES, interval_s=3600, merge=lambda pending, n: (pending or 0) + n, render=lambda total, _s: {"new": total}
    )
    assert publisher.flush() is False  # nothing pending: nothing sent
    publisher.add(1)
    assert publisher.flush() is True  # the first event goes out at once
    for _ in range(50):
        publisher.add(2)
        publisher.flush()  # not due: an hour has not passed
    publisher.flush(force=True)
    assert received() == [{"type": "images.update", "new": 1}, {"type": "images.update", "new": 100}]


def test_a_disabled_publisher_sends_nothing(listener):
    received = listener(live.SESSIONS.group)
    for publisher in (live.Publisher(live.SESSIONS, interval_s=0), live.Publisher(live.SESSIONS, enabled=False)):
        publisher.add({"received": 1})
        assert publisher.flush(force=True) is False
    assert received() == []


def test_the_websocket_consumer_relays_exactly_the_listed_events():
    handlers = {name for name in dir(LiveConsumer) if re.fullmatch(r"[a-z]+_(update|progress)", name)}
    assert handlers == {event.handler for event in live.EVENTS}
    assert set(live.GROUPS) == {"telemetry", "sessions", "failover", "images", "alarms"}


def test_the_page_scripts_handle_exactly_the_listed_event_types():
    # Every script under static/dashboard/ (one file or several modules) is read.
    scripts = "\n".join(p.read_text() for p in sorted(Path(settings.BASE_DIR, "static", "dashboard").rglob("*.js")))
    handled = set(re.findall(r"""["'`]([a-z]+\.[a-z]+)["'`]""", scripts))
    live_types = {event.type for event in live.EVENTS}
    assert live_types <= handled, f"the page does not handle {live_types - handled}"
    group_like = {t for t in handled if t.split(".")[0] in live.GROUPS}
    assert group_like <= live_types, f"the page expects events nobody publishes: {group_like - live_types}"
