"""The batch-worker base, through real brokers and PostgreSQL: group commit, containment, hooks, heartbeats.

The sessions pipeline (RabbitMQ) runs in this process; the base is the same
for every pipeline, so what holds here holds for telemetry too (its own tests
run the MQTT side).
"""

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection

from sessions_app.consumer import session_worker
from sessions_app.models import UserSession
from tests.sessions.helpers import T0, consume, dead_letters, event, publish, queue_depth
from tests.support.waiting import wait_until
from tier0site.workers import worker_heartbeats

pytestmark = pytest.mark.django_db


def _events(n: int, prefix: str = "GC") -> list[dict]:
    return [event(f"{prefix}-{i:05d}", "login", T0 + timedelta(seconds=i)) for i in range(n)]


def test_what_is_waiting_is_stored_in_few_batches_not_one_commit_per_message(queue, sre_key):
    publish(queue, _events(1000))
    worker = consume(queue, prefetch=400, batch_size=200)
    assert UserSession.objects.filter(session_id__startswith="GC-").count() == 1000
    assert worker.totals.received == 1000
    # Group commit takes whatever arrived during the previous commit (up to the batch size).
    assert 5 <= worker.totals.batches < 100


class Running:
    """A worker in a thread of this process (its own database connection, closed when it ends)."""

    def __init__(self, worker):
        self.worker = worker
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.worker.run()
        finally:
            connection.close()

    def stop(self):
        self.worker.shutdown.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def _beat(worker_name: str, **expected):
    beats = [b for b in worker_heartbeats() if b["worker"] == worker_name]
    return next((b for b in beats if all(b[k] == v for k, v in expected.items())), None)


@pytest.mark.django_db(transaction=True)
def test_a_lone_message_is_stored_at_once_a_linger_holds_it_and_shutdown_stores_what_is_held(queue, sre_key, settings):
    settings.WORKER_HEARTBEAT_S = 0.1
    running = Running(session_worker(queue=queue, live_interval_s=0))
    publish(queue, _events(1, "LONE"))
    # No flush interval to wait out: stored while the worker keeps running.
    wait_until(lambda: UserSession.objects.filter(session_id="LONE-00000").exists(), timeout=10)
    running.stop()

    running = Running(session_worker(queue=queue, live_interval_s=0, flush_interval_s=60))
    publish(queue, _events(1, "HELD"))
    wait_until(lambda: _beat("rabbitmq_consumer", backlog=1), timeout=10)  # received, held for more
    assert not UserSession.objects.filter(session_id="HELD-00000").exists()
    running.stop()  # what SIGTERM does: store and acknowledge what was received, then return
    assert UserSession.objects.filter(session_id="HELD-00000").exists()
    assert queue_depth(queue)[0] == 0


def test_oversized_and_unreadable_messages_become_dead_letters_and_their_neighbours_are_stored(queue, sre_key):
    good = _events(3, "NB")
    nested = b"[" * 20_000 + b"]" * 20_000  # under the 64 KiB cap; RecursionError in json.loads
    too_big = json.dumps({**good[0], "username": "x" * 70_000}).encode()
    huge_int = json.dumps({**good[0], "session_id": "NB-INT"}).encode().replace(b'"login"', b'"login", "n": ' + b"9" * 6000)
    publish(queue, [good[0], too_big, nested, good[1], huge_int, good[2]])
    worker = consume(queue)

    assert UserSession.objects.filter(session_id__startswith="NB-").count() == 3
    assert worker.totals.dead_lettered == 3
    letters = dead_letters(queue)
    assert len(letters) == 3
    for headers, body in letters:
        # Dead letters keep the first 4 KiB of a payload with its full size and hash.
        assert len(body) <= 4096 and headers["x-payload-size"] >= len(body) and len(headers["x-payload-sha256"]) == 64
    reasons = {headers["x-payload-size"]: headers["x-death-reason"] for headers, _body in letters}
    assert "over the 65536-byte limit" in reasons[len(too_big)]
    assert reasons[len(nested)] and reasons[len(huge_int)]  # whatever was raised, the reason says it
    assert queue_depth(queue)[0] == 0


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_has_a_heartbeat_with_its_figures_and_none_once_stopped(queue, sre_key, settings):
    settings.WORKER_HEARTBEAT_S = 0.1
    publish(queue, _events(20, "HB"))
    running = Running(session_worker(queue=queue, live_interval_s=0))

    found = wait_until(lambda: _beat("rabbitmq_consumer", messages_stored=20), timeout=10)
    assert found["backlog"] == 0 and found["batches"] >= 1 and found["dead_lettered"] == 0
    assert found["last_stored_at"] >= found["started_at"] and found["last_beat"] >= found["last_stored_at"]
    assert {"host", "pid"} <= found.keys()
    running.stop()
    assert _beat("rabbitmq_consumer") is None


def test_a_throughput_line_is_logged_every_interval(queue, sre_key, settings, caplog):
    settings.WORKER_LOG_EVERY_S = 0.05
    caplog.set_level(logging.INFO, logger="tier0site.workers")
    publish(queue, _events(30, "TP"))
    consume(queue)
    lines = [r for r in caplog.records if r.getMessage().startswith("rabbitmq_consumer: ")]
    assert lines, "no throughput line"
    assert sum(r.received_delta for r in lines if hasattr(r, "received_delta")) <= 30
    assert "received" in lines[0].getMessage() and "backlog" in lines[0].getMessage()
