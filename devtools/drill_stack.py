"""The chaos drill's own services: PostgreSQL, Redis, Mosquitto, RabbitMQ and the two consumers.

Everything runs on free loopback ports under one temporary folder, from the
project's existing launchers (``devtools.topology`` for PostgreSQL and Redis,
``devtools.broker.MosquittoProcess``, ``devtools.rabbitmq.RabbitNode``); the
consumers are the project's own commands started with environment variables
pointing at these instances. Each component can be SIGKILLed and started again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
from django.conf import settings

from devtools import topology as topo
from devtools.broker import MosquittoProcess
from devtools.device_simulator import Fleet
from devtools.rabbitmq import RabbitEnv
from failover import pg
from failover.nodes import _chown_postgres
from telemetry import mqtt

DATABASE = "tier0_drill"
QUEUE = "drill_user_activity"
MQTT_CLIENT_ID = "tier0-drill-consumer"
# Settings that would point a child at another topology than the drill's.
FOREIGN_ENV = ("HA_", "REDIS_SENTINEL", "MQTT_", "RABBITMQ_URL", "DATABASE_URL", "REDIS_URL", "SESSIONS_QUEUE")
PROBE_STORED_SQL = "SELECT EXISTS (SELECT 1 FROM telemetry_reading WHERE tags->>'drill' = 'probe')"
CONSUMERS = {
    "mqtt_consumer": ["run_mqtt_consumer", "--client-id", MQTT_CLIENT_ID, "--metrics-port", "0"],
    "rabbitmq_consumer": ["run_rabbitmq_consumer", "--queue", QUEUE, "--metrics-port", "0"],
}


class DrillStack:
    def __init__(self, *, root: Path | None = None, mosquitto_overrides: dict[str, str] | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="tier0-drill-"))
        self.topology = topo.topology_create(self.root / "ha", database=DATABASE, regions=("drill",), synchronous_commit="on")
        self.pg, self.redis = self.topology.pg[0], self.topology.redis[0]
        self.mosquitto = MosquittoProcess(data_dir=self.root / "mosquitto", overrides=mosquitto_overrides)
        self.rabbit_env = RabbitEnv(root=self.root / "rabbitmq")
        self.rabbit = self.rabbit_env.node("drill")
        self.consumers: dict[str, subprocess.Popen] = {}

    # --- whole stack ----------------------------------------------------------------
    def up(self) -> DrillStack:
        root = Path(self.topology.root)
        for sub in ("pg", "log", "sock"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.root, root, root / "pg", root / "log", root / "sock"):
            path.chmod(0o755)
            _chown_postgres(path)
        topo.pg_initdb(self.pg)
        pg.pg_write_role(self.pg, topology=self.topology, primary_of=None, sync=False)
        pg.pg_start(self.pg)
        with self.pg.connect() as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        self.rabbit.start(wait=False)  # it boots while the database is migrated
        topo.redis_start(self.redis)
        self.mosquitto.start()
        self.manage("migrate", "--noinput", "-v", "0")
        self.rabbit.wait_ready()
        for name in CONSUMERS:
            self.consumer_start(name)
        self.wait_ingesting()
        return self

    def wait_ingesting(self, timeout_s: float = 60) -> None:
        """Wait until the MQTT consumer stores: before its first subscription Mosquitto drops
        what is published (no session yet), which would read as losses of the first fault."""
        fleet = Fleet(devices=1)
        client = mqtt.make_client("tier0-drill-probe")
        mqtt.connect(client, host="127.0.0.1", port=self.mosquitto.port)
        client.loop_start()
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                device = fleet.devices[0]
                payload = json.dumps(fleet.reading(device, extra_tags={"drill": "probe"}))
                client.publish(mqtt.telemetry_topic(device.site_id, device.kind.name, device.device_id), payload, qos=1)
                with contextlib.suppress(psycopg.Error), self.db() as conn:
                    if conn.execute(PROBE_STORED_SQL).fetchone()[0]:
                        return
                time.sleep(0.3)
        finally:
            client.disconnect()
            client.loop_stop()
        raise RuntimeError(f"the MQTT consumer stored nothing in {timeout_s}s: {self.consumer_log_tail('mqtt_consumer')}")

    def down(self) -> None:
        # Everything is deleted next: no clean shutdowns to wait for.
        for name in list(self.consumers):
            self.consumer_kill(name)
        self.rabbit.kill()
        self.rabbit_env.stop_epmd()
        if self.mosquitto.process and self.mosquitto.process.poll() is None:
            self.kill("mosquitto")
        with contextlib.suppress(Exception):
            self.kill("postgresql")
        topo.topology_down(self.topology)
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The environment that points the project's commands at the drill's services."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV)}
        return {
            **base,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "MQTT_HOST": "127.0.0.1",
            "MQTT_PORT": str(self.mosquitto.port),
            "RABBITMQ_URL": self.rabbit.url,
            "SESSIONS_QUEUE": QUEUE,
            "LOG_LEVEL": "WARNING",
            "DB_CONNECT_TIMEOUT": "2",
        }

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg.port}/{DATABASE}"

    def manage(self, *args: str, timeout_s: float = 300) -> None:
        result = subprocess.run(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed: {result.stderr[-800:]}")

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.pg.conninfo(DATABASE), autocommit=True)

    # --- consumers ----------------------------------------------------------------------
    def consumer_start(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.consumers[name] = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", *CONSUMERS[name]],
            cwd=settings.BASE_DIR,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def consumer_kill(self, name: str) -> None:
        proc = self.consumers[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def consumer_log_tail(self, name: str, chars: int = 600) -> str:
        with contextlib.suppress(OSError):
            return (self.root / f"{name}.log").read_text(errors="replace")[-chars:]
        return ""

    # --- faults: SIGKILL, then start again --------------------------------------------------
    def kill(self, component: str) -> None:
        if component in CONSUMERS:
            self.consumer_kill(component)
        elif component == "mosquitto":
            self.mosquitto.process.kill()
            self.mosquitto.process.wait(timeout=30)
        elif component == "rabbitmq":
            self.rabbit.kill()
        elif component == "redis":
            pid = int(self.redis.pid_file.read_text().strip())
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)
        elif component == "postgresql":
            pid = topo.pg_kill(self.pg)
            pg.pg_fence_dead(self.pg)  # the backends a killed postmaster leaves behind
            (self.pg.data_dir / "standby.signal").unlink(missing_ok=True)  # it comes back as the primary
            if pid:
                _wait_gone(pid)
        else:
            raise ValueError(component)

    def start(self, component: str) -> None:
        if component in CONSUMERS:
            self.consumer_start(component)
        elif component == "mosquitto":
            self.mosquitto.start()
        elif component == "rabbitmq":
            self.rabbit.start()
        elif component == "redis":
            self.redis.pid_file.unlink(missing_ok=True)
            topo.redis_start(self.redis)
        elif component == "postgresql":
            # Its processes are gone (fenced), but a killed postmaster no one reaps stays a
            # zombie whose pid still "exists": drop the lock files naming it.
            (self.pg.data_dir / "postmaster.pid").unlink(missing_ok=True)
            (self.pg.sock_dir / f".s.PGSQL.{self.pg.port}.lock").unlink(missing_ok=True)
            pg.pg_start(self.pg)
        else:
            raise ValueError(component)


def _wait_gone(pid: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)
