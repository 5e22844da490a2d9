"""Helpers for the session pipeline tests: events, publishing, consumers, waiting."""

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
from django.conf import settings

from devtools.amqp_publisher import ConfirmedPublisher, Outgoing
from sessions_app import amqp
from sessions_app.consumer import session_worker
from tests.support.processes import subprocess_env
from tier0site.workers import BatchWorker

BASE_DIR = Path(settings.BASE_DIR)
# Events in the recent past (the consumer refuses times an hour or more ahead).
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event(session_id: str, kind: str, at: datetime, **extra) -> dict:
    status = {"login": "active", "active": "active", "idle": "idle", "logout": "disconnected"}[kind]
    body = {
        "user_id": extra.pop("user_id", f"USR-{session_id[-5:]}"),
        "username": "alex_j",
        "session_id": session_id,
        "event": kind,
        "connection_status": status,
        "region": "US-WEST",
        "site_id": "SFO-WEB-01",
        "ip_address": "192.168.1.104",
        "timestamp": iso(at),
    }
    body.update(extra)
    return body


def publish(queue: str, messages: list) -> None:
    """Publish dicts (as JSON) or raw bytes, with confirms."""
    outgoing = [
        m if isinstance(m, Outgoing) else Outgoing(m if isinstance(m, bytes) else json.dumps(m).encode(), type=None)
        for m in messages
    ]
    report = ConfirmedPublisher(queue=queue).publish_all(outgoing)
    assert report.confirmed == len(outgoing)


def consume(queue: str, **options) -> BatchWorker:
    """Run a consumer in this process until the queue has been quiet for a moment."""
    options.setdefault("idle_exit_s", 0.4)
    options.setdefault("live_interval_s", 0)
    consumer = session_worker(queue=queue, **options)
    consumer.run()
    return consumer


def queue_depth(queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue``."""
    conn = pika.BlockingConnection(amqp.connection_parameters())
    try:
        frame = conn.channel().queue_declare(queue=queue, passive=True)
        return frame.method.message_count, frame.method.consumer_count
    finally:
        conn.close()


def dead_letters(queue: str) -> list[tuple[dict, bytes]]:
    """Drain the dead-letter queue: (headers, body) of each message."""
    conn = pika.BlockingConnection(amqp.connection_parameters())
    found = []
    try:
        channel = conn.channel()
        while True:
            method, properties, body = channel.basic_get(amqp.dead_letter_queue(queue), auto_ack=True)
            if method is None:
                return found
            found.append((properties.headers or {}, body))
    finally:
        conn.close()


class ConsumerProcess:
    """A real ``run_rabbitmq_consumer`` process on the test database."""

    def __init__(self, queue: str, sre_key: str, *extra: str) -> None:
        # The same database and cache namespace as the test (heartbeats, redelivery counts).
        env = subprocess_env(
            SESSIONS_SRE_USER_KEY=sre_key,
            SESSIONS_LIVE_INTERVAL_S="0",
            LOG_LEVEL="WARNING",
            # libpq names the process's connections, so a test can cut exactly these.
            PGAPPNAME=f"tier0-test-consumer-{queue}",
        )
        self.process = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "run_rabbitmq_consumer", "--queue", queue, "--metrics-port", "0", *extra],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_consuming(self, queue: str, timeout: float = 20) -> None:
        amqp.topology_ensure(queue=queue)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()
            if queue_depth(queue)[1] > 0:
                return
            time.sleep(0.1)
        raise AssertionError("consumer did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 20) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err
