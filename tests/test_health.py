"""/api/health: stores, brokers and workers; degraded (200) names the part, down (503) is PostgreSQL or Redis."""

import time
import uuid

import pika
import pytest
from django.conf import settings as django_settings

from tier0site.health import worker_findings


def _beat(worker, **figures):
    now = time.time()
    return {
        "worker": worker,
        "host": "h",
        "pid": 1,
        "started_at": now - 60,
        "last_beat": now - 1,
        "messages_stored": 10,
        "dead_lettered": 0,
        "batches": 2,
        "last_stored_at": now - 1,
        "backlog": 0,
        **figures,
    }


@pytest.fixture
def sessions_queue(settings):
    """A queue of its own on the machine's RabbitMQ, deleted afterwards."""
    name = f"health_test_{uuid.uuid4().hex[:8]}"
    settings.SESSIONS_QUEUE = name
    conn = pika.BlockingConnection(pika.URLParameters(django_settings.RABBITMQ_URL))
    channel = conn.channel()
    channel.queue_declare(queue=name, durable=False, auto_delete=False)
    yield channel, name
    channel.queue_delete(queue=name)
    conn.close()


@pytest.mark.django_db
def test_health_reports_rabbitmq_queue_depth_and_names_missing_workers(anon_client, mosquitto, sessions_queue):
    channel, name = sessions_queue
    for i in range(3):
        channel.basic_publish(exchange="", routing_key=name, body=str(i).encode())
    deadline = time.monotonic() + 10
    while True:
        body = anon_client.get("/api/health").json()
        if body["checks"]["rabbitmq"].get("messages") == 3 or time.monotonic() > deadline:
            break
    assert body["checks"]["rabbitmq"] | {"ms": 0} == {"ok": True, "queue": name, "messages": 3, "consumers": 0, "ms": 0}
    # No worker runs in this test: each expected one is named as not running; the API still serves.
    assert body["status"] == "degraded"
    assert {"mqtt_consumer", "rabbitmq_consumer"} <= set(body["failing"])
    assert body["checks"]["mqtt_consumer"]["error"] == "not running (no heartbeat)"


@pytest.mark.django_db
def test_brokers_down_are_degraded_not_503(anon_client, settings, mosquitto):
    settings.RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there
    settings.MQTT_PORT = 1
    response = anon_client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert {"rabbitmq", "mqtt"} <= set(response.json()["failing"])


def test_workers_running_stopped_behind_and_stalled(settings):
    settings.HEALTH_WORKERS = ["mqtt_consumer", "rabbitmq_consumer", "sweeper"]
    settings.HEALTH_MAX_BACKLOG = 100
    settings.HEALTH_MAX_QUEUE_DEPTH = 1000
    now = time.time()
    beats = [
        _beat("mqtt_consumer", backlog=500),
        _beat("rabbitmq_consumer"),
        _beat("sweeper", backlog=5, last_stored_at=now - 600),
    ]
    queue = {"queue": "q", "messages": 5000, "consumers": 1}
    report = worker_findings(beats, rabbitmq=queue, now=now)
    assert report["mqtt_consumer"]["error"] == "falling behind: 500 received, not stored"
    assert report["rabbitmq_consumer"]["error"] == "falling behind: 5000 messages waiting in q"
    assert report["sweeper"]["error"].startswith("stalled: nothing stored for 600 s")
    healthy = worker_findings([_beat("mqtt_consumer"), _beat("rabbitmq_consumer"), _beat("sweeper")], rabbitmq=None, now=now)
    assert all(entry["ok"] for entry in healthy.values())
    assert healthy["mqtt_consumer"]["processes"] == 1 and healthy["mqtt_consumer"]["last_beat_age_s"] == 1.0
    stopped = worker_findings([_beat("mqtt_consumer")], rabbitmq={"queue": "q", "messages": 0, "consumers": 0}, now=now)
    assert stopped["rabbitmq_consumer"]["error"] == "not running (no heartbeat)"


@pytest.mark.django_db
def test_health_reads_the_workers_heartbeats(anon_client, settings, mosquitto, sessions_queue):
    from tier0site.workers import Heartbeat

    settings.HEALTH_WORKERS = ["mqtt_consumer", "sweeper"]
    settings.HEALTH_MAX_BACKLOG = 1000
    mqtt, sweeper = Heartbeat("mqtt_consumer"), Heartbeat("sweeper")
    try:
        mqtt.beat(force=True, messages_stored=500, batches=5, last_stored_at=time.time(), backlog=3)
        sweeper.beat(force=True)
        body = anon_client.get("/api/health").json()
        assert body["status"] == "ok", body
        assert body["checks"]["mqtt_consumer"]["processes"] == 1 and body["checks"]["mqtt_consumer"]["backlog"] == 3
        # The consumer falls behind: health turns degraded and names it.
        mqtt.beat(force=True, messages_stored=600, batches=6, last_stored_at=time.time(), backlog=5000)
        body = anon_client.get("/api/health").json()
        assert body["status"] == "degraded" and body["failing"] == ["mqtt_consumer"]
        assert body["checks"]["mqtt_consumer"]["error"] == "falling behind: 5000 received, not stored"
        # It stops: its heartbeat goes, and health says it is not running.
        mqtt.stop()
        assert anon_client.get("/api/health").json()["checks"]["mqtt_consumer"]["error"] == "not running (no heartbeat)"
    finally:
        mqtt.stop()
        sweeper.stop()
