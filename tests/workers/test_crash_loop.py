"""A message that kills the consumer: replayed alone after each crash, dead-lettered after the third.

The crash is real: ``WORKER_CRASH_ON_MARKER`` (a fault-injection setting for
tests) makes the consumer process abort (SIGABRT) when it reads a message with
the marker, as a crash in a C extension would. The test plays the process
manager: it restarts the consumer whenever it dies, and counts the deaths.
"""

import json
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.models import UserSession
from telemetry import mqtt
from telemetry.models import DeadLetter, TelemetryReading
from tests.sessions.helpers import T0, ConsumerProcess, dead_letters, event, publish, queue_depth
from tests.support.waiting import wait_until
from tests.telemetry.conftest import reading_payload, topic_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MARKER = "__crash_me__"


def _supervise(start, done, *, timeout: float = 120) -> tuple[object, list[int]]:
    """Run the consumer until ``done()``, restarting it whenever it dies; returns it and its exit codes."""
    process, deaths = start(), []
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not done after {timeout}s; deaths: {deaths}"
        code = process.process.poll()
        if code is not None:
            deaths.append(code)
            assert len(deaths) <= 5, "crash loop"
            process = start()
        time.sleep(0.05)
    return process, deaths


def _readings(count: int) -> list[dict]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    return [
        reading_payload(
            device_id=f"TURB-{i:05d}", timestamp_utc=(start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        )
        for i in range(count)
    ]


def test_mqtt_consumer_stores_the_neighbours_and_dead_letters_the_message_that_kills_it(consumer_process, monkeypatch):
    monkeypatch.setenv("WORKER_CRASH_ON_MARKER", MARKER)
    client_id = f"test-crash-{uuid.uuid4().hex[:6]}"
    first = consumer_process(client_id)  # opens the persistent session, so the broker keeps everything for it
    readings = _readings(81)
    readings[40]["tags"] = {"note": MARKER}
    publisher = mqtt.make_client(f"pub-{uuid.uuid4().hex[:6]}")
    mqtt.connect(publisher)
    publisher.loop_start()
    for reading in readings:
        assert publisher.publish(topic_for(reading), json.dumps(reading), qos=1).wait_for_publish(5) is None
    publisher.disconnect()
    publisher.loop_stop()

    started = iter([first])
    process, deaths = _supervise(
        lambda: next(started, None) or consumer_process(client_id),
        lambda: TelemetryReading.objects.count() == 80 and DeadLetter.objects.exists(),
    )
    assert deaths == [-signal.SIGABRT] * 3  # delivered 4 times: dead-lettered on the fourth
    letter = DeadLetter.objects.get()
    assert letter.reason.startswith("poison: delivered 4 times")
    assert MARKER in letter.payload and letter.payload_size > 0 and len(letter.payload_sha256) == 64
    assert not TelemetryReading.objects.filter(device_id="TURB-00040").exists()
    assert process.stop() == 0


def test_rabbitmq_consumer_stores_the_neighbours_and_dead_letters_the_message_that_kills_it(queue, sre_key, monkeypatch):
    monkeypatch.setenv("WORKER_CRASH_ON_MARKER", MARKER)
    messages = [event(f"CRASH-{i:03d}", "login", T0 + timedelta(seconds=i)) for i in range(61)]
    messages[30]["username"] = MARKER
    publish(queue, messages)

    process, deaths = _supervise(
        lambda: ConsumerProcess(queue, sre_key),
        lambda: UserSession.objects.filter(session_id__startswith="CRASH-").count() == 60 and queue_depth(queue)[0] == 0,
    )
    assert deaths == [-signal.SIGABRT] * 3
    code, _out, err = process.stop()
    assert code == 0, err
    ((headers, body),) = dead_letters(queue)
    assert headers["x-death-reason"].startswith("poison: delivered 4 times")
    assert MARKER.encode() in body
    assert not UserSession.objects.filter(session_id="CRASH-030").exists()


def test_a_huge_or_deeply_nested_payload_keeps_4_kib_its_size_and_hash_in_dead_letters(consumer_process, monkeypatch):
    # The broker drops anything over 64 KiB before a consumer sees it; the consumer's own cap
    # is set lower here so both payloads pass the broker and meet the consumer.
    monkeypatch.setenv("TELEMETRY_MAX_PAYLOAD_BYTES", "16384")
    consumer_process()
    reading = _readings(1)[0]
    body = json.dumps({**reading, "tags": {"junk": "x" * 30_000}})
    publisher = mqtt.make_client(f"pub-{uuid.uuid4().hex[:6]}")
    mqtt.connect(publisher)
    publisher.loop_start()
    assert publisher.publish(topic_for(reading), body, qos=1).wait_for_publish(5) is None
    publisher.publish(topic_for(reading), b"[" * 12_000, qos=1).wait_for_publish(5)
    publisher.disconnect()
    publisher.loop_stop()

    wait_until(lambda: DeadLetter.objects.count() >= 2, 30, message="the two payloads were not dead-lettered")
    big, nested = sorted(DeadLetter.objects.all(), key=lambda d: -d.payload_size)
    assert big.payload_size == len(body) and len(big.payload) == 4096 and "over the 16384-byte limit" in big.reason
    assert nested.payload_size == 12_000 and len(nested.payload) == 4096
