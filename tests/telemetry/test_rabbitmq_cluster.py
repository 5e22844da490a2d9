"""Node kills under load on a real 3-node RabbitMQ cluster: no acknowledged reading is lost.

The whole clustered path: a simulated fleet publishing MQTT 3.1.1 QoS 1 to one
node's rabbitmq_mqtt (moving to another when that node dies), the quorum
queue replicated on three nodes, two ``run_mqtt_consumer --transport
rabbitmq`` processes competing for it, PostgreSQL. Under steady load the node
leading the queue is SIGKILLed, restarted, then the node the publisher is
connected to is SIGKILLed. Every reading the broker acknowledged (PUBACK) must
be stored once; copies resent after a lost PUBACK or redelivered after a
consumer's node died are dropped by the natural key. The seconds until ingest
resumes after each kill are measured and printed, not asserted.
"""

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devtools.device_publisher import fleet_publish
from devtools.device_simulator import Fleet
from devtools.rabbit_cluster import RabbitCluster, wait_listening
from telemetry import rabbitmq
from tests.support.processes import subprocess_env
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster, pytest.mark.slow]

REPO = Path(settings.BASE_DIR)
RATE = 300  # readings per second offered during the kills


@pytest.fixture
def cluster(tmp_path, settings, topic_prefix):
    """Three nodes with the MQTT plugin, the telemetry queue declared once all joined; every node killed afterwards."""
    rabbit = RabbitCluster(tmp_path / "rabbit", size=3)
    try:
        rabbit.start()
        settings.TELEMETRY_QUEUE = f"telemetry-{uuid.uuid4().hex[:8]}"
        settings.TELEMETRY_BROKER_URLS = rabbit.amqp_urls()
        rabbitmq.topology_ensure()
        yield rabbit
    finally:
        rabbit.stop()


class Consumers:
    """``run_mqtt_consumer --transport rabbitmq`` processes of this test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, urls: list[str]) -> None:
        log_path = self.workdir / f"consumer{len(self.processes)}.log"
        command = [sys.executable, "manage.py", "run_mqtt_consumer", "--transport", "rabbitmq", "--brokers", ",".join(urls)]
        env = subprocess_env(
            MQTT_TOPIC_PREFIX=settings.MQTT_TOPIC_PREFIX, TELEMETRY_QUEUE=settings.TELEMETRY_QUEUE, WORKER_HEARTBEAT_S="0.5"
        )
        with open(log_path, "ab") as log:
            self.processes.append(
                subprocess.Popen([*command, "--metrics-port", "0"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own manage.py
            )
        self.logs.append(log_path)

    def stop(self) -> int:
        """SIGTERM every consumer; the copies they dropped by the natural key (from their exit lines)."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)
        text = "".join(log.read_text(errors="replace") for log in self.logs)
        return sum(int(n) for n in re.findall(r"duplicates (\d+), dead-lettered", text))

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def consumers(tmp_path):
    running = Consumers(tmp_path)
    yield running
    running.kill()


class Publisher(threading.Thread):
    """The simulator's publisher in a thread, remembering every reading the broker acknowledged."""

    def __init__(self, brokers: list[tuple[str, int]], run: str) -> None:
        super().__init__(daemon=True)
        self.brokers, self.run_id = brokers, run
        self.acked: set[tuple[str, float]] = set()
        self.stop = threading.Event()
        self.report = self.error = None

    def run(self) -> None:
        try:
            self.report = fleet_publish(
                Fleet(devices=2000, seed=11),
                rate=RATE,
                brokers=self.brokers,
                stamp_sent={"run": self.run_id},
                client_id=f"cluster-pub-{self.run_id}",
                stop=self.stop,
                on_ack=self._acked,
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def _acked(self, payload: bytes) -> None:
        reading = json.loads(payload)
        self.acked.add((reading["device_id"], float(reading["tags"]["sent_at"])))


def stored(run: str) -> set[tuple[str, float]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT device_id, tags->>'sent_at' FROM telemetry_reading WHERE tags->>'run' = %s", [run])
        return {(device_id, float(sent_at)) for device_id, sent_at in cursor.fetchall()}


def resume_figures(run: str, killed_at: float) -> dict:
    """Seconds from the kill until the first reading published after it was stored; worst latency around it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT extract(epoch FROM min(received_at) FILTER (WHERE (tags->>'sent_at')::float8 > %s)) - %s,
                   max(extract(epoch FROM received_at) - (tags->>'sent_at')::float8)
                       FILTER (WHERE (tags->>'sent_at')::float8 BETWEEN %s AND %s + 30)
            FROM telemetry_reading WHERE tags->>'run' = %s
            """,
            [killed_at, killed_at, killed_at - 5, killed_at, run],
        )
        resume, worst = cursor.fetchone()
    return {"resume_s": round(float(resume), 2), "worst_latency_s": round(float(worst), 2)}


def stored_after(run: str, moment: float) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM telemetry_reading WHERE tags->>'run' = %s AND (tags->>'sent_at')::float8 > %s LIMIT 1", [run, moment]
        )
        return cursor.fetchone() is not None


def test_killing_the_queue_leader_then_the_publishers_node_loses_no_acknowledged_reading(cluster, consumers, record_property):
    queue = settings.TELEMETRY_QUEUE
    assert len(cluster.queue_members(queue)) == 3
    leader = cluster.queue_leader(queue)
    publisher_node, third = [n for n in cluster.nodes if n is not leader]
    # One consumer starts on the leader's node, one on the publisher's: each kill moves a consumer too.
    consumers.start([leader.url, third.url, publisher_node.url])
    consumers.start([publisher_node.url, third.url, leader.url])
    run = uuid.uuid4().hex[:8]
    publisher = Publisher([("127.0.0.1", n.mqtt_port) for n in (publisher_node, third, leader)], run)
    publisher.start()
    figures = {"rate": RATE}
    try:
        wait_until(lambda: len(stored(run)) >= 2 * RATE, 120, 0.5, "nothing stored before the kills")

        killed_at = time.time()
        leader.kill()
        wait_until(lambda: stored_after(run, killed_at), 120, 0.2, "ingest did not resume after the leader's node died")
        figures["leader_kill"] = {**resume_figures(run, killed_at), "new_leader": cluster.queue_leader(queue).name}

        leader.start(timeout_s=120)  # rejoins with its data: the queue is on three nodes again
        wait_listening(leader.mqtt_port, timeout_s=60)
        wait_until(lambda: len(cluster.queue_members(queue, column="online")) == 3, 60, 0.5, "the queue member did not rejoin")
        wait_until(lambda: stored_after(run, time.time() - 0.5), 60, 0.2)

        killed_at = time.time()
        publisher_node.kill()
        wait_until(lambda: stored_after(run, killed_at), 120, 0.2, "ingest did not resume after the publisher's node died")
        figures["publisher_node_kill"] = resume_figures(run, killed_at)
        wait_until(lambda: stored_after(run, killed_at + 2), 60, 0.2)
    finally:
        publisher.stop.set()
        publisher.join(180)
    assert publisher.error is None, publisher.error
    assert publisher.report.failovers >= 1  # it did move to another node

    acked = publisher.acked
    assert len(acked) == publisher.report.published  # every message it sent was acknowledged in the end
    wait_until(lambda: acked <= stored(run), 120, 0.5, "acknowledged readings missing from the database")
    rows = stored(run)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading WHERE tags->>'run' = %s", [run])
        row_count = cursor.fetchone()[0]
    assert row_count == len(rows)  # no reading twice

    removed = consumers.stop()
    figures.update(
        published=publisher.report.published,
        acknowledged=len(acked),
        stored=row_count,
        lost=len(acked - rows),
        duplicates_stored=row_count - len(rows),
        duplicates_removed=removed,
        publisher_reconnects=publisher.report.failovers,
    )
    record_property("cluster_failover", figures)
    sys.stdout.write(f"\ncluster failover figures: {json.dumps(figures)}\n")  # seen with -s; timing is reported, not asserted
    assert figures["lost"] == 0
