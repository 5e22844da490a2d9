"""What the broker itself counts: messages it received and messages it dropped.

A message the broker drops never reaches a consumer, so no dead letter can
record it. Mosquitto publishes its counters as retained ``$SYS`` topics (every
``sys_interval`` seconds); this reads them with a short-lived client.
Mosquitto 2.0 counts in ``publish/messages/dropped`` the messages it dropped
from full client queues; a publish over ``message_size_limit`` is acknowledged
and dropped without a counter of its own (only a debug log line), so it shows as
the gap between ``publish_received`` and what the consumers received.
"""

import threading
import uuid

from django.core.cache import cache

from telemetry import mqtt

COUNTERS = {
    "$SYS/broker/publish/messages/received": "publish_received",
    "$SYS/broker/publish/messages/dropped": "publish_dropped",
    "$SYS/broker/publish/bytes/received": "publish_bytes_received",
    # Changes at every refresh: a value newer than a given one proves the others are fresh.
    "$SYS/broker/uptime": "uptime_s",
}


# Mosquitto 2.0 republishes a counter only when it changed, retained with a 60 s expiry: after a
# quiet minute only the uptime (which changes at every refresh) is sure to be there. A missing
# counter is reported as None ("unchanged for over a minute"), never guessed.
REQUIRED = frozenset({"uptime_s"})
GRACE_S = 0.2


def broker_counters(*, host: str | None = None, port: int | None = None, timeout_s: float = 2.0) -> dict[str, int]:
    """The broker's own counters (see ``COUNTERS``; a missing optional one is absent).

    Raises ``TimeoutError`` if the broker does not send the required ones in time.
    """
    values: dict[str, int] = {}
    required = threading.Event()
    complete = threading.Event()

    def on_message(_client, _userdata, message) -> None:
        try:
            values[COUNTERS[message.topic]] = int(message.payload.split()[0])
        except (KeyError, ValueError, IndexError):
            return
        if values.keys() >= REQUIRED:
            required.set()
        if len(values) == len(COUNTERS):
            complete.set()

    client = mqtt.make_client(f"tier0-sys-{uuid.uuid4().hex[:8]}")
    client.on_message = on_message
    client.on_connect = lambda c, *_: [c.subscribe(topic, qos=0) for topic in COUNTERS]
    mqtt.connect(client, host=host, port=port)
    client.loop_start()
    try:
        if not required.wait(timeout_s):
            raise TimeoutError(f"the broker sent {sorted(values)} of its $SYS counters within {timeout_s}s")
        complete.wait(GRACE_S)
        return {name: values.get(name) for name in COUNTERS.values()}
    finally:
        client.disconnect()
        client.loop_stop()


RECENT_KEY = "telemetry:broker-counters"
RECENT_S = 5  # Mosquitto refreshes $SYS every sys_interval (5 s): a fresher read could show nothing new


def broker_counters_recent(*, timeout_s: float = 2.0) -> dict[str, int]:
    """``broker_counters`` at most ``RECENT_S`` old: a page polled by many staff opens one MQTT connection per refresh."""
    counters = cache.get(RECENT_KEY)
    if counters is None:
        counters = broker_counters(timeout_s=timeout_s)
        cache.set(RECENT_KEY, counters, RECENT_S)
    return counters
