"""RabbitMQ topology and connection parameters for the user-activity queue.

One durable queue (default ``user_activity_queue``) whose dead letters go
through a direct exchange ``<queue>.dlx`` to the durable queue
``<queue>.dead``. Publishers and consumers declare the same topology with the
same arguments, so whichever starts first creates it.
"""

import logging

import pika
from django.conf import settings

EVENT_TYPE = "user.event"
SNAPSHOT_TYPE = "site.snapshot"
REASON_HEADER = "x-death-reason"

# pika logs every connection step at INFO; our workers log what matters themselves.
logging.getLogger("pika").setLevel(logging.WARNING)


def dead_letter_exchange(queue: str) -> str:
    return f"{queue}.dlx"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


def connection_parameters(url: str | None = None, *, heartbeat: int = 30) -> pika.URLParameters:
    params = pika.URLParameters(url or settings.RABBITMQ_URL)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 60
    params.socket_timeout = 10
    params.connection_attempts = 1
    return params


def topology_declare(channel, queue: str) -> None:
    """Declare the queue, its dead-letter exchange and dead-letter queue (idempotent)."""
    dlx, dlq = dead_letter_exchange(queue), dead_letter_queue(queue)
    channel.exchange_declare(exchange=dlx, exchange_type="direct", durable=True)
    channel.queue_declare(queue=dlq, durable=True)
    channel.queue_bind(queue=dlq, exchange=dlx, routing_key=queue)
    channel.queue_declare(
        queue=queue,
        durable=True,
        arguments={"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": queue},
    )


def topology_delete(*, queue: str, url: str | None = None) -> None:
    """Remove a queue with its dead-letter queue and exchange (tests, benchmarks)."""
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        channel.queue_delete(queue=queue)
        channel.queue_delete(queue=dead_letter_queue(queue))
        channel.exchange_delete(exchange=dead_letter_exchange(queue))
    finally:
        connection.close()


def topology_ensure(*, queue: str, url: str | None = None) -> None:
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        topology_declare(connection.channel(), queue)
    finally:
        connection.close()
