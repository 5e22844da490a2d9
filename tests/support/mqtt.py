"""Publish to the project's Mosquitto from a test, QoS 1, and wait for the broker's acknowledgements."""

import uuid

import paho.mqtt.client as paho

from telemetry import mqtt


def publish(messages: list[tuple[str, bytes]], *, timeout: float = 30) -> list[paho.MQTTMessageInfo]:
    """Publish (topic, payload) pairs in order; return each publish's info once the broker acknowledged it."""
    client = mqtt.make_client(f"pub-{uuid.uuid4().hex[:8]}")
    mqtt.connect(client)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout)
        return infos
    finally:
        client.disconnect()
        client.loop_stop()
