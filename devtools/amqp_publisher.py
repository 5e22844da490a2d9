"""Publish persistent messages to the user-activity queue with pipelined confirms.

Waiting for each publisher confirm caps pika at a few thousand messages a
second on this machine, so this publisher keeps up to ``window`` messages in
flight on an asynchronous ``SelectConnection`` and settles them as the broker
confirms them (one confirm often covers many, ``multiple=True``). A nacked
message, or one still unconfirmed when the connection drops, is published
again: delivery is at-least-once and the consumer's upsert is idempotent.
"""

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pika
import pika.exceptions
from pika.spec import Basic

from sessions_app import amqp
from tier0site.workers import Backoff

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outgoing:
    body: bytes
    type: str | None = amqp.EVENT_TYPE  # None: the consumer tells by the shape


@dataclass
class PublishReport:
    published: int = 0  # distinct messages handed to the broker
    confirmed: int = 0
    republished: int = 0  # nacked or unconfirmed at a disconnect, sent again
    unconfirmed: int = 0  # given up on (stopped while the broker was away)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.confirmed / self.seconds if self.seconds else 0.0


class ConfirmedPublisher:
    chunk = 500  # publishes per ioloop turn, so confirms are read in between

    def __init__(self, *, queue: str, url: str | None = None, window: int = 2000) -> None:
        self.queue = queue
        self.url = url
        self.window = window

    def publish_all(
        self,
        messages: Iterable[Outgoing],
        *,
        rate: float | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> PublishReport:
        """Publish every message (or until ``stop``) and return once all are confirmed."""
        amqp.topology_ensure(queue=self.queue, url=self.url)
        self._messages: Iterator[Outgoing] = iter(messages)
        self._exhausted = False
        self._finished = False
        self._retry: deque[Outgoing] = deque()
        self._outstanding: OrderedDict[int, Outgoing] = OrderedDict()
        self._rate, self._stop, self._progress = rate, stop or threading.Event(), progress
        self.report = PublishReport()
        started = self._started = time.monotonic()
        backoff = Backoff()
        while not self._finished:
            self._connection = pika.SelectConnection(
                amqp.connection_parameters(self.url),
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
            self._connection.ioloop.start()
            if self._finished:
                break
            # Whatever the broker had not confirmed may not have been stored: send it again.
            self.report.republished += len(self._outstanding)
            self._retry.extend(self._outstanding.values())
            self._outstanding.clear()
            if self._stop.is_set():
                self.report.unconfirmed = len(self._retry)
                logger.warning("stopped with messages unconfirmed", extra={"unconfirmed": self.report.unconfirmed})
                break
            delay = backoff.next_delay()
            logger.warning("rabbitmq connection lost while publishing; reconnecting", extra={"retry_in_s": delay})
            self._stop.wait(delay)
        self.report.seconds = time.monotonic() - started
        if self._progress:
            self._progress(self.report.confirmed)
        return self.report

    # connection callbacks ---------------------------------------------------
    def _on_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, _connection, error) -> None:
        logger.warning("rabbitmq connection failed", extra={"error": repr(error)[:200]})
        self._connection.ioloop.stop()

    def _on_closed(self, _connection, reason) -> None:
        if not self._finished:
            logger.warning("rabbitmq connection closed", extra={"reason": repr(reason)[:200]})
        self._connection.ioloop.stop()

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        self._next_tag = 0  # delivery tags count from 1 on every channel
        self._window_full = False
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _frame: self._pump())

    def _on_channel_closed(self, _channel, reason) -> None:
        if self._connection.is_open:
            logger.warning("rabbitmq channel closed", extra={"reason": repr(reason)[:200]})
            self._connection.close()

    def _on_confirm(self, frame) -> None:
        method = frame.method
        acked = isinstance(method, Basic.Ack)
        if method.multiple:
            tags = []
            for tag in self._outstanding:  # in publish order: stop at the first newer tag
                if method.delivery_tag and tag > method.delivery_tag:
                    break
                tags.append(tag)
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self._outstanding else []
        for tag in tags:
            message = self._outstanding.pop(tag)
            if acked:
                self.report.confirmed += 1
            else:
                self.report.republished += 1
                self._retry.append(message)
        if self._window_full:
            self._window_full = False
            self._connection.ioloop.call_later(0, self._pump)

    # publishing -----------------------------------------------------------
    def _pump(self) -> None:
        if self._finished or not self._channel.is_open:
            return
        sent = 0
        allowed = self._allowed()
        while sent < self.chunk and sent < allowed and len(self._outstanding) < self.window:
            message = self._next_message()
            if message is None:
                break
            self._channel.basic_publish(
                exchange="",
                routing_key=self.queue,
                body=message.body,
                properties=pika.BasicProperties(
                    delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json", type=message.type
                ),
            )
            self._next_tag += 1
            self._outstanding[self._next_tag] = message
            sent += 1
        if self._progress:
            self._progress(self.report.confirmed)
        if self._exhausted and not self._retry and not self._outstanding:
            self._finished = True
            self._connection.close()
            return
        if len(self._outstanding) >= self.window:
            self._window_full = True  # the next confirm resumes the pump
            return
        if self._exhausted and not self._retry:
            delay = 0.005  # waiting for the last confirms
        elif sent < self.chunk and self._rate:
            delay = min(0.05, max(0.001, 1 / self._rate))
        else:
            delay = 0
        self._connection.ioloop.call_later(delay, self._pump)

    def _allowed(self) -> float:
        if not self._rate:
            return float("inf")
        due = int(self._rate * (time.monotonic() - self._started)) + 1
        return max(0, due - self.report.published)

    def _next_message(self) -> Outgoing | None:
        if self._retry:
            return self._retry.popleft()
        if self._exhausted or self._stop.is_set():
            self._exhausted = True
            return None
        message = next(self._messages, None)
        if message is None:
            self._exhausted = True
            return None
        self.report.published += 1
        return message
