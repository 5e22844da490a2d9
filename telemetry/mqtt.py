"""MQTT clients with the project's settings (paho-mqtt 2.x, MQTT 3.1.1).

MQTT 3.1.1 rather than 5: paho decodes 3.1.1 packets about twice as fast (20
against 37 microseconds of CPU per received message, measured here), and
everything the pipeline needs works with it: persistent sessions
(clean_session false), shared subscriptions (``$share/...``, which Mosquitto
accepts from 3.1.1 clients) and manual acknowledgements. The in-flight window of
3.1.1 clients is set by the broker (``max_inflight_messages 0`` in the project's
mosquitto.conf), so a consumer can hold a whole batch unacknowledged.
"""

import paho.mqtt.client as mqtt
from django.conf import settings


def make_client(client_id: str, *, manual_ack: bool = False, persistent: bool = False) -> mqtt.Client:
    """A client; ``persistent`` keeps its session (subscriptions, queued messages) across reconnects."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=not persistent,
        manual_ack=manual_ack,
    )
    if settings.MQTT_USERNAME:
        client.username_pw_set(settings.MQTT_USERNAME, settings.MQTT_PASSWORD)
    return client


def connect(client: mqtt.Client, *, host: str | None = None, port: int | None = None) -> None:
    client.connect(host or settings.MQTT_HOST, port or settings.MQTT_PORT, keepalive=30)


def telemetry_topic(site_id: str, device_type: str, device_id: str) -> str:
    return f"{settings.MQTT_TOPIC_PREFIX}/{site_id}/{device_type}/{device_id}"


def telemetry_subscription(*, shared: bool) -> str:
    topic = f"{settings.MQTT_TOPIC_PREFIX}/#"
    return f"$share/{settings.MQTT_SHARED_GROUP}/{topic}" if shared else topic


def broker_list(brokers: list[str] | str | None = None) -> list[tuple[str, int]]:
    """``host:port`` entries (a list or one comma-separated string; default MQTT_BROKERS, else MQTT_HOST:MQTT_PORT)."""
    if isinstance(brokers, str):
        brokers = brokers.split(",")
    entries = [b.strip() for b in (brokers or settings.MQTT_BROKERS) if b.strip()]
    if not entries:
        return [(settings.MQTT_HOST, settings.MQTT_PORT)]
    parsed = []
    for entry in entries:
        host, _, port = entry.rpartition(":")
        parsed.append((host.strip("[]") or "127.0.0.1", int(port)))
    return parsed
