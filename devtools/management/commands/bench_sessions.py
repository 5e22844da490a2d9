"""Benchmark the session pipeline end to end: publish N events through RabbitMQ to a real consumer.

A ``run_rabbitmq_consumer`` process is started on a queue of the benchmark's
own; N login events (each a new session of the benchmark's marker site) are
published with pipelined confirms, each stamped with the wall clock just
before it is handed to pika. The figures come from the stored rows: ``stored``
counts the marker's sessions in PostgreSQL, latency is each row's
``stored_at`` (the database clock when the upsert that wrote it ran, inside
the committing transaction) minus its event timestamp, and ``events_per_s``
is N over the time from the first publish to the last stored row. The
benchmark's queue, rows and Redis key are removed afterwards, also when it is
interrupted (Ctrl-C, SIGTERM from a process manager or ``timeout``): SIGTERM
unwinds like Ctrl-C, and the clean-up runs with both signals held off so a
second Ctrl-C cannot leave a queue of undelivered messages behind.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pika
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django_redis import get_redis_connection

from devtools.amqp_publisher import ConfirmedPublisher, Outgoing
from sessions_app import amqp
from sessions_app.models import UserSession
from sessions_app.services import sessions_delete

REGIONS = ["US-WEST", "US-EAST", "EU-WEST", "APAC"]


def _events(count: int, marker: str):
    for n in range(count):
        yield Outgoing(
            json.dumps(
                {
                    "user_id": f"{marker}-U{n % 1000:04d}",
                    "session_id": f"{marker}-{n:08d}",
                    "event": "login",
                    "connection_status": "active",
                    "region": REGIONS[n % len(REGIONS)],
                    "site_id": marker,
                    "ip_address": f"10.{n % 250}.{n // 250 % 250}.{n % 199 + 1}",
                    "timestamp": datetime.now(UTC).isoformat(),
                }
            ).encode()
        )


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _interrupted(signum, _frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _start_consumer(queue: str, *, sre_key: str, prefetch: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own manage.py
        [
            sys.executable,
            "manage.py",
            "run_rabbitmq_consumer",
            "--queue",
            queue,
            "--metrics-port",
            "0",
            "--prefetch",
            str(prefetch),
        ],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": _database_url(),
            "SESSIONS_SRE_USER_KEY": sre_key,
            "SESSIONS_LIVE_INTERVAL_S": "0",  # keep benchmark sessions off the live dashboard
            "LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cleanup(consumer: subprocess.Popen | None, *, queue: str, marker: str, sre_key: str) -> tuple[str, str]:
    """Stop the consumer, then remove the queue, the rows and the Redis key; signals held off meanwhile."""
    held = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    out = err = ""
    try:
        if consumer is not None:
            # First the consumer: running, it would declare the queue again after its deletion.
            if consumer.poll() is None:
                consumer.send_signal(signal.SIGTERM)
            try:
                out, err = consumer.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                consumer.kill()
                out, err = consumer.communicate()
        amqp.topology_delete(queue=queue)
        sessions_delete(site_id=marker)
        get_redis_connection("default").delete(sre_key)
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler)
    return out, err


class Command(BaseCommand):
    help = "Publish N events through RabbitMQ to a consumer process and print one JSON line of figures."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=50_000)
        parser.add_argument("--prefetch", type=int, default=settings.SESSIONS_PREFETCH)
        parser.add_argument("--rate", type=float, default=0.0, help="publish rate cap in events/s (0: as fast as confirms allow)")
        parser.add_argument("--window", type=int, default=2000, help="publisher confirms in flight")
        parser.add_argument("--timeout", type=float, default=300.0, help="give up waiting for rows after this many seconds")
        parser.add_argument("--json", action="store_true", help="print only the JSON line")

    def handle(self, *args, **options):
        count = options["events"]
        tag = uuid.uuid4().hex[:10]
        marker, queue, sre_key = f"BENCH-{tag}", f"bench_sessions_{tag}", f"SRE_User_bench_{tag}"
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupted)
        if not options["json"]:
            self.stderr.write(f"benchmark queue {queue}, marker {marker}")
        consumer = None
        try:
            amqp.topology_ensure(queue=queue)
            consumer = _start_consumer(queue, sre_key=sre_key, prefetch=options["prefetch"])
            self._wait_consuming(queue, consumer)
            started_wall = time.time()
            report = ConfirmedPublisher(queue=queue, window=options["window"]).publish_all(
                _events(count, marker), rate=options["rate"] or None
            )
            stored = self._wait_stored(marker, count, options["timeout"])
            figures = self._figures(marker, started_wall)
        finally:
            out, err = _cleanup(consumer, queue=queue, marker=marker, sre_key=sre_key)
            signal.signal(signal.SIGTERM, previous_sigterm)
        result = {
            "events": count,
            "stored": stored,
            "lost": count - stored,
            "events_per_s": round(count / figures["seconds"], 1) if figures["seconds"] else None,
            "p50_ms": figures["p50_ms"],
            "p99_ms": figures["p99_ms"],
            "publish_confirmed_per_s": round(report.rate, 1),
            "publish_rate_cap": options["rate"] or None,
            "consumer_exit": consumer.returncode,
            "consumer_report": out.strip().splitlines()[-1] if out.strip() else err.strip()[-300:],
            "measured": "publish (wall clock in each event) to the row's stored_at (database clock of the upsert, "
            "inside the committing transaction); rate = events / (last stored_at - first publish)",
        }
        if not options["json"]:
            self.stdout.write(f"benchmark queue {queue}, marker {marker} (removed)")
        self.stdout.write(json.dumps(result))

    def _wait_consuming(self, queue: str, consumer: subprocess.Popen) -> None:
        conn = pika.BlockingConnection(amqp.connection_parameters())
        try:
            channel = conn.channel()
            deadline = time.monotonic() + 30
            while channel.queue_declare(queue=queue, passive=True).method.consumer_count == 0:
                if consumer.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"consumer did not start: {consumer.communicate()[1][-500:]}")
                time.sleep(0.05)
        finally:
            conn.close()

    def _wait_stored(self, marker: str, count: int, timeout: float) -> int:
        """Poll until every event is stored, or nothing new arrived for 10 s, or ``timeout``."""
        deadline = time.monotonic() + timeout
        stored, last_change, last = 0, time.monotonic(), -1
        while time.monotonic() < deadline:
            stored = UserSession.objects.filter(site_id=marker).count()
            if stored >= count:
                return stored
            if stored != last:
                last, last_change = stored, time.monotonic()
            elif time.monotonic() - last_change > 10:
                return stored
            time.sleep(0.05)
        return stored

    def _figures(self, marker: str, started_wall: float) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lat),
                       percentile_cont(0.99) WITHIN GROUP (ORDER BY lat),
                       extract(epoch FROM max(stored_at))
                FROM (SELECT extract(epoch FROM stored_at - last_event_at) * 1000 AS lat, stored_at
                      FROM {UserSession._meta.db_table} WHERE site_id = %s) AS t
                """,  # noqa: S608 - the table name is the model's; the marker is a parameter
                [marker],
            )
            p50, p99, last_stored = cursor.fetchone()
        return {
            "p50_ms": round(p50, 1) if p50 is not None else None,
            "p99_ms": round(p99, 1) if p99 is not None else None,
            "seconds": float(last_stored) - started_wall if last_stored else None,
        }
