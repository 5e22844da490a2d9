"""Telemetry fixtures: a unique topic namespace per test, consumer processes."""

import json
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from devtools.device_simulator import Fleet
from telemetry.consumer import mqtt_ingest_worker
from tests.support.processes import subprocess_env
from tests.support.waiting import wait_until

REPO = Path(settings.BASE_DIR)


@pytest.fixture
def topic_prefix(settings):
    """A topic namespace of this test's own, so brokers' queues never mix tests."""
    settings.MQTT_TOPIC_PREFIX = f"t{uuid.uuid4().hex[:10]}/og/field"
    return settings.MQTT_TOPIC_PREFIX


@pytest.fixture
def fleet():
    return Fleet(devices=500, seed=7)


def recent(seconds_ago: float = 0) -> str:
    """An ISO 8601 UTC time ``seconds_ago`` before now (readings must be within the retention)."""
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat(timespec="microseconds").replace("+00:00", "Z")


def reading_payload(**overrides) -> dict:
    """A valid turbine reading shaped like the seed's Turbine_sample.json, stamped now."""
    payload = json.loads((settings.SEED_DATA_DIR / "templates" / "Turbine_sample.json").read_text())
    payload["timestamp_utc"] = recent()
    payload.update(overrides)
    return payload


def topic_for(payload: dict, prefix: str | None = None) -> str:
    return f"{prefix or settings.MQTT_TOPIC_PREFIX}/{payload['site_id']}/{payload['device_type']}/{payload['device_id']}"


def consumer_env() -> dict:
    """Environment for a child process that must use this test's database and broker."""
    return subprocess_env(
        MQTT_PORT=str(settings.MQTT_PORT),
        MQTT_TOPIC_PREFIX=settings.MQTT_TOPIC_PREFIX,
        WORKER_HEARTBEAT_S="0.2",  # tests wait on the consumer's heartbeat
    )


def mqtt_session_create(client_id: str) -> None:
    """Open the consumer's persistent session (subscribed) before it starts.

    From then on the broker queues every message for it, so a test can publish
    at once instead of guessing how long the process takes to subscribe. It
    acknowledges nothing: whatever the broker hands it stays in the session.
    """
    from telemetry import mqtt

    client = mqtt.make_client(client_id, persistent=True, manual_ack=True)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    mqtt.connect(client)
    client.loop_start()
    try:
        client.subscribe(mqtt.telemetry_subscription(shared=False), qos=1)
        assert subscribed.wait(10), "no SUBACK from the broker"
    finally:
        client.disconnect()
        client.loop_stop()


class ConsumerProcess:
    def __init__(self, client_id: str, log_path: Path):
        self.client_id = client_id
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, *extra: str) -> "ConsumerProcess":
        command = [sys.executable, "manage.py", "run_mqtt_consumer", "--client-id", self.client_id, "--metrics-port", "0", *extra]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=consumer_env(), stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own manage.py
        return self

    def stop(self, *, timeout: float = 30) -> int:
        self.process.terminate()
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def consumer_process(mosquitto, topic_prefix, tmp_path):
    started: list[ConsumerProcess] = []
    sessions: set[str] = set()

    def start(client_id: str | None = None, *extra: str) -> ConsumerProcess:
        client_id = client_id or f"test-{uuid.uuid4().hex[:8]}"
        if client_id not in sessions:
            mqtt_session_create(client_id)
            sessions.add(client_id)
        process = ConsumerProcess(client_id, tmp_path / "consumer.log").start(*extra)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill()


class WorkerThreads:
    """Ingest workers running in threads of this process, each with its own DB connection; stopped at teardown."""

    def __init__(self) -> None:
        self.running: list[tuple[object, threading.Thread]] = []

    def start(self, worker):
        def run():
            try:
                worker.run()
            finally:
                connections.close_all()  # this thread's own, or the test database cannot be dropped

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.running.append((worker, thread))
        return worker

    def stop_all(self) -> None:
        for worker, thread in self.running:
            worker.shutdown.set()
            thread.join(30)


@pytest.fixture
def worker_thread(mosquitto, topic_prefix):
    """The MQTT ingest worker in a thread, started once it is subscribed."""
    threads = WorkerThreads()

    def start(**kwargs):
        worker = threads.start(mqtt_ingest_worker(client_id=f"test-{uuid.uuid4().hex[:8]}", **kwargs))
        wait_until(worker.transport.connected.is_set, 10)
        return worker

    yield start
    threads.stop_all()
