"""The ingest benchmark: the real path, measured end to end, in a database of its own.

Publisher (the simulator's ``fleet_publish``) -> the project's Mosquitto -> the
``run_mqtt_consumer`` command in its own process -> PostgreSQL. Latency is
publish-to-store: each reading carries its publish time in ``tags.sent_at`` and
the row its insert time (``received_at``, clock_timestamp() inside the
committing transaction). The raw ceiling is measured in the same run by
COPYing the same rows straight into a table shaped like the history.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
from django.conf import settings

from devtools.broker import MosquittoProcess
from devtools.device_publisher import fleet_publish
from devtools.device_simulator import Fleet

REPO = Path(settings.BASE_DIR)


class BenchDatabase:
    """A throwaway database, migrated with the project's migrations."""

    def __init__(self) -> None:
        db = settings.DATABASES["default"]
        self.conninfo = {
            k: v for k, v in {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}.items() if v
        }
        self.name = f"{db['NAME']}_bench_{uuid.uuid4().hex[:6]}"
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        self.url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{self.name}"

    def create(self) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **self.conninfo) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env(), check=True)

    def drop(self) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **self.conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def env(self, **extra) -> dict:
        return {**os.environ, "DATABASE_URL": self.url, "CACHE_KEY_PREFIX": f"tier0bench{uuid.uuid4().hex[:6]}", **extra}

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(dbname=self.name, autocommit=True, **self.conninfo)


def _stored(conn, run: str) -> int:
    return conn.execute("SELECT count(*) FROM telemetry_reading WHERE tags->>'bench' = %s", [run]).fetchone()[0]


def _wait_stored(conn, run: str, expected: int, *, stall_s: float = 30.0, log=None) -> int:
    """Wait until ``expected`` rows of ``run`` are stored, or nothing moves for ``stall_s``."""
    last, last_change = -1, time.monotonic()
    while True:
        stored = _stored(conn, run)
        if stored >= expected:
            return stored
        if stored != last:
            last, last_change = stored, time.monotonic()
            if log:
                log(f"{run}: stored {stored}/{expected}")
        elif time.monotonic() - last_change > stall_s:
            return stored
        time.sleep(0.25)


def _latency_figures(conn, run: str) -> dict:
    row = conn.execute(
        """
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms),
               extract(epoch FROM max(received_at)) - min((tags->>'sent_at')::float8),
               count(*) - count(DISTINCT (device_id, tags->>'sent_at'))
        FROM (SELECT *, (extract(epoch FROM received_at) - (tags->>'sent_at')::float8) * 1000 AS ms
              FROM telemetry_reading WHERE tags->>'bench' = %s) r
        """,
        [run],
    ).fetchone()
    return {"p50_ms": round(row[0], 1), "p99_ms": round(row[1], 1), "span_s": row[2], "duplicates": row[3]}


def _copy_ceiling(conn) -> float:
    """Rows per second COPYing the stored rows into a table shaped like the history."""
    conn.execute("CREATE TABLE bench_copy (LIKE telemetry_reading INCLUDING ALL)")
    columns = "device_id, device_type, site_id, timestamp_utc, firmware, metrics, status, location, tags"
    buffer = bytearray()
    with conn.cursor().copy(f"COPY (SELECT {columns} FROM telemetry_reading) TO STDOUT") as copy:  # noqa: S608 - a constant column list
        for chunk in copy:
            buffer += chunk
    rows = buffer.count(b"\n")
    started = time.perf_counter()
    with conn.transaction(), conn.cursor().copy(f"COPY bench_copy ({columns}) FROM STDIN") as copy:
        for offset in range(0, len(buffer), 1 << 20):
            copy.write(buffer[offset : offset + (1 << 20)])
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE bench_copy")
    return rows / seconds


class _Consumer:
    """``run_mqtt_consumer`` in a process of its own (from ``repo``: another checkout compares versions)."""

    def __init__(
        self, env: dict, log_path: Path, repo: Path = REPO, args: tuple[str, ...] = ("--client-id", "bench-consumer")
    ) -> None:
        self.env, self.log_path, self.repo, self.args = env, log_path, repo, args
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own manage.py with our arguments
                [sys.executable, "manage.py", "run_mqtt_consumer", *self.args, "--metrics-port", "0"],
                cwd=self.repo,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.ps = psutil.Process(self.process.pid)

    def cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> float:
        cpu = self.cpu_s()
        self.process.terminate()
        self.process.wait(timeout=60)
        return cpu


class PostgresCpu:
    """CPU seconds of the PostgreSQL backends serving the bench database (the consumers' sessions).

    Summing every postgres process of the machine mixes in other users' work and
    goes negative when their backends exit; the bench database's own backends
    are what the ingest costs (the shared WAL writer and checkpointer are left out).
    """

    def __init__(self, conn) -> None:
        self.conn = conn
        self.start = self._sample()

    def _sample(self) -> dict[int, float]:
        pids = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        cpu = {}
        for (pid,) in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            cpu[pid] = times.user + times.system
        return cpu

    def seconds(self) -> float:
        now = self._sample()
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items())


def warm_up(conn, fleet: Fleet, *, timeout_s: float = 120.0, **broker) -> None:
    """Publish one reading at a time until one is stored: the consumers are up, connected and subscribed.

    ``broker``: where ``fleet_publish`` publishes (``port=`` one Mosquitto, ``brokers=`` a cluster's nodes).
    """
    deadline = time.monotonic() + timeout_s
    while not _stored(conn, "warmup"):
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer stored nothing")
        fleet_publish(fleet, count=1, stamp_sent={"bench": "warmup"}, client_id="bench-warmup", **broker)
        time.sleep(0.5)


def rate_benchmark(*, rate: float, messages: int, devices: int = 100_000, consumer_repo: Path | None = None) -> dict:
    """Publish -> stored latency at a fixed offered rate (no backlog, no drain: the steady state)."""
    database = BenchDatabase()
    database.create()
    workdir = Path(tempfile.mkdtemp(prefix="tier0-bench-"))
    broker = MosquittoProcess(data_dir=workdir / "mosquitto").start()
    consumer = _Consumer(database.env(MQTT_PORT=str(broker.port)), workdir / "consumer.log", consumer_repo or REPO)
    fleet = Fleet(devices=devices, seed=1)
    try:
        with database.connect() as conn:
            consumer.start()
            warm_up(conn, fleet, port=broker.port)
            cpu0 = consumer.cpu_s()
            report = fleet_publish(
                fleet, count=messages, rate=rate, port=broker.port, stamp_sent={"bench": "live"}, client_id="bench-publisher"
            )
            stored = _wait_stored(conn, "live", messages)
            figures = _latency_figures(conn, "live")
            cpu = consumer.cpu_s() - cpu0
            consumer.stop()
        return {
            "rate": rate,
            "messages": report.published,
            "stored": stored,
            "lost": report.published - stored,
            "duplicates": figures["duplicates"],
            "publish_msgs_per_s": round(report.rate),
            "p50_ms": figures["p50_ms"],
            "p99_ms": figures["p99_ms"],
            "consumer_cpu_s": round(cpu, 1),
            "consumer": str(consumer.repo),
            "measured": "fixed offered rate -> project Mosquitto (QoS 1) -> run_mqtt_consumer -> PostgreSQL; latency publish to insert",
        }
    finally:
        if consumer.process and consumer.process.poll() is None:
            consumer.process.kill()
        broker.stop()
        database.drop()


def ingest_benchmark(
    *,
    messages: int,
    devices: int = 100_000,
    drain_fraction: float = 0.5,
    consumer_repo: Path | None = None,
    log=None,
    inspect=None,
) -> dict:
    """One run; ``inspect(conn, consumer_log)`` may add figures from the bench database (before it is dropped) and the consumer's log."""
    database = BenchDatabase()
    database.create()
    workdir = Path(tempfile.mkdtemp(prefix="tier0-bench-"))
    broker = MosquittoProcess(data_dir=workdir / "mosquitto").start()
    env = database.env(MQTT_PORT=str(broker.port))
    consumer = _Consumer(env, workdir / "consumer.log", consumer_repo or REPO)
    fleet = Fleet(devices=devices, seed=1)
    try:
        with database.connect() as conn:
            consumer.start()
            warm_up(conn, fleet, port=broker.port)
            # CPU from here on: the consumer's start-up (Django, connections) is not per-message work.
            pg_cpu, me_cpu0, consumer_cpu0 = PostgresCpu(conn), time.process_time(), consumer.cpu_s()
            mq = psutil.Process(broker.process.pid)
            mq_cpu0 = sum(mq.cpu_times()[:2])
            started = time.monotonic()
            report = fleet_publish(
                fleet, count=messages, port=broker.port, stamp_sent={"bench": "live"}, client_id="bench-publisher"
            )
            stored = _wait_stored(conn, "live", messages, log=log)
            live = _latency_figures(conn, "live")
            cpu = {
                "publisher": round(time.process_time() - me_cpu0, 1),
                "consumer": round(consumer.cpu_s() - consumer_cpu0, 1),  # the timed run, not start-up
                "mosquitto": round(sum(mq.cpu_times()[:2]) - mq_cpu0, 1),
                "postgres": round(pg_cpu.seconds(), 1),  # the bench database's backends
                "wall": round(time.monotonic() - started, 1),
            }
            consumer.stop()

            # Backlog: published while the consumer is down, queued by its persistent session.
            backlog = int(messages * drain_fraction)
            fleet_publish(fleet, count=backlog, port=broker.port, stamp_sent={"bench": "drain"}, client_id="bench-publisher")
            consumer.start()  # its persistent session kept the backlog; the drain rate is timed from stored rows
            drained = _wait_stored(conn, "drain", backlog, log=log)
            consumer.stop()
            # From the first stored row of the backlog to the last (not process start-up).
            drain_seconds = conn.execute(
                "SELECT extract(epoch FROM max(received_at) - min(received_at)) FROM telemetry_reading WHERE tags->>'bench' = 'drain'"
            ).fetchone()[0]

            extra = inspect(conn, consumer.log_path.read_text(errors="replace")) if inspect else {}
            copy_rate = _copy_ceiling(conn)
        msgs_per_s = stored / live["span_s"] if live["span_s"] else 0.0
        return {
            "messages": report.published,
            "stored": stored,
            "lost": report.published - stored,
            "duplicates": live["duplicates"],
            "seconds": round(live["span_s"], 2),
            "msgs_per_s": round(msgs_per_s),
            "publish_msgs_per_s": round(report.rate),
            "p50_ms": live["p50_ms"],
            "p99_ms": live["p99_ms"],
            "drain_messages": backlog,
            "drain_lost": backlog - drained,
            "drain_msgs_per_s": round(drained / float(drain_seconds)) if drain_seconds else None,
            "copy_rows_per_s": round(copy_rate),
            "ratio_to_copy": round(msgs_per_s / copy_rate, 3),
            "cpu_seconds": cpu,
            "measured": "simulator -> project Mosquitto (QoS 1) -> run_mqtt_consumer -> PostgreSQL, one run; latency publish to insert",
            **extra,
        }
    finally:
        if consumer.process and consumer.process.poll() is None:
            consumer.process.kill()
        broker.stop()
        database.drop()
