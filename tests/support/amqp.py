"""Publish raw bodies to a RabbitMQ queue from a test, with publisher confirms."""

import pika

from sessions_app import amqp


def publish_raw(queue: str, messages: list[tuple[bytes, str]], *, message_type: str | None = None) -> None:
    """Publish (body, message_id) pairs in order; every one confirmed by the broker or an error raised."""
    amqp.topology_ensure(queue=queue)
    connection = pika.BlockingConnection(amqp.connection_parameters())
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body, message_id in messages:
            properties = pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id, type=message_type
            )
            channel.basic_publish(exchange="", routing_key=queue, body=body, properties=properties, mandatory=True)
    finally:
        connection.close()


def drain(queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    """Take every message waiting in ``queue``: (properties, body) each."""
    connection = pika.BlockingConnection(amqp.connection_parameters())
    found = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            found.append((properties, body))
    finally:
        connection.close()
