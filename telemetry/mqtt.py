"""MQTT clients with the project's settings (paho-mqtt 2.x, MQTT 5)."""

import paho.mqtt.client as mqtt
from django.conf import settings
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

# A consumer's session outlives a restart by this much, so the broker queues
# telemetry for it while it is down.
SESSION_EXPIRY_S = 2 * 24 * 3600
# MQTT 5 Receive Maximum: unacknowledged QoS 1 messages the broker may send us.
# It must exceed a batch, since a batch is acknowledged only after its commit.
RECEIVE_MAXIMUM = 65535


def make_client(client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.MQTT_USERNAME:
        client.username_pw_set(settings.MQTT_USERNAME, settings.MQTT_PASSWORD)
    return client


def connect(client: mqtt.Client, *, persistent: bool, host: str | None = None, port: int | None = None) -> None:
    properties = Properties(PacketTypes.CONNECT)
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    if persistent:
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
    client.connect(
        host or settings.MQTT_HOST,
        port or settings.MQTT_PORT,
        keepalive=30,
        clean_start=not persistent,
        properties=properties,
    )


def telemetry_topic(site_id: str, device_type: str, device_id: str) -> str:
    return f"{settings.MQTT_TOPIC_PREFIX}/{site_id}/{device_type}/{device_id}"


def telemetry_subscription(*, shared: bool) -> str:
    topic = f"{settings.MQTT_TOPIC_PREFIX}/#"
    return f"$share/{settings.MQTT_SHARED_GROUP}/{topic}" if shared else topic
