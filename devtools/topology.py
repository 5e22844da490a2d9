"""The HA topology supervisor: create, start and stop PostgreSQL, Redis and Sentinels.

Everything runs from the Debian binaries on loopback ports and in a data folder
of its own (``.run/ha`` by default, a temporary folder in tests), never on the
machine's own PostgreSQL (5432) or Redis (6379). Region 1 starts as the
primary, region 2 as its synchronous streaming replica; Redis likewise, watched
by three Sentinels (quorum 2). The layout goes to ``topology.json`` so
``ha_down``, the orchestrator and the watcher find the nodes started here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import psutil
import redis

from devtools.broker import free_port
from failover.nodes import (
    PG_BIN,
    SENTINEL_MASTER,
    PgNode,
    RedisNode,
    SentinelNode,
    Topology,
    TopologyError,
    _chown_postgres,
    _is_postgres,
    _run,
)
from failover.pg import pg_make_replica, pg_set_sync, pg_start, pg_stop, pg_write_role

logger = logging.getLogger(__name__)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# command line so the same file serves every node.
POSTGRESQL_CONF = """
# --- tier0 failover topology (devtools/topology.py) ---
listen_addresses = '127.0.0.1'
max_connections = 60
shared_buffers = 32MB
wal_level = replica
wal_log_hints = on            # pg_rewind can turn an old primary into a replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 200ms
wal_sender_timeout = 10s
wal_receiver_timeout = 10s
checkpoint_timeout = 5min
log_line_prefix = '%m [%p] %q%a '
log_min_messages = warning
"""


def topology_create(
    root: Path | str,
    *,
    database: str = "tier0",
    regions: tuple[str, ...] = ("region1", "region2"),
    synchronous_commit: str = "remote_apply",
    base_port: int | None = None,
) -> Topology:
    """A new layout; ports are free loopback ports unless ``base_port`` fixes them."""
    root = str(Path(root).resolve())
    ports = iter(range(base_port, base_port + 20)) if base_port else None

    def port() -> int:
        return next(ports) if ports else free_port()

    return Topology(
        root=root,
        database=database,
        synchronous_commit=synchronous_commit,
        pg=[PgNode(region=r, port=port(), root=root) for r in regions],
        redis=[RedisNode(region=r, port=port(), root=root) for r in regions],
        sentinels=[SentinelNode(port=port(), root=root) for _ in range(3)],
    )


def topology_up(topology: Topology) -> Topology:
    """Start region 1 as primary and region 2 as its synchronous replica; Redis likewise."""
    root = Path(topology.root)
    for sub in ("pg", "log", "sock"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for path in (root, root / "pg", root / "log", root / "sock"):
        _chown_postgres(path)
    topology.save()
    primary, *replicas = topology.pg
    # Redis first: Sentinels need a couple of seconds of hello messages to see each other.
    redis_start(topology.redis[0])
    for node in topology.redis[1:]:
        redis_start(node, replica_of=topology.redis[0])
    for sentinel in topology.sentinels:
        sentinel_start(sentinel, master=topology.redis[0], quorum=topology.quorum)
    pg_initdb(primary)
    pg_write_role(primary, topology=topology, primary_of=None, sync=False)
    pg_start(primary)
    with primary.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [topology.database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{topology.database}"')
    for replica in replicas:
        pg_make_replica(replica, primary=primary, topology=topology)
    pg_set_sync(primary, topology=topology, on=True)
    sentinels_wait_ready(topology)
    logger.info("failover topology up", extra={"root": topology.root})
    return topology


def topology_down(topology: Topology) -> None:
    """Stop every node (fast shutdown, then SIGKILL of what is left); data stays."""
    for node in topology.pg:
        pg_stop(node, mode="fast", missing_ok=True)
        for proc in node.processes():
            with contextlib.suppress(psutil.Error):
                proc.kill()
    _stop_pidfiles([node.pid_file for node in [*topology.sentinels, *topology.redis]])
    logger.info("failover topology down", extra={"root": topology.root})


# --- PostgreSQL nodes ---------------------------------------------------------------
def pg_initdb(node: PgNode) -> None:
    if (node.data_dir / "PG_VERSION").exists():
        return
    node.data_dir.mkdir(parents=True, exist_ok=True)
    _chown_postgres(node.data_dir)
    _run(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(node.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-k",
            "--no-instructions",
        ],
        as_postgres=True,
    )
    with (node.data_dir / "postgresql.conf").open("a") as conf:
        conf.write(POSTGRESQL_CONF)


def pg_kill(node: PgNode) -> int | None:
    """SIGKILL the postmaster (an unplanned failure); returns its pid."""
    pid = node.postmaster_pid()
    if pid and _is_postgres(pid):
        os.kill(pid, signal.SIGKILL)
        return pid
    return None


# --- Redis and Sentinel -------------------------------------------------------------
def redis_start(node: RedisNode, *, replica_of: RedisNode | None = None) -> None:
    node.dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"port {node.port}",
        f"bind {node.host}",
        "protected-mode no",
        "daemonize yes",
        f"pidfile {node.pid_file}",
        f"logfile {node.dir / 'redis.log'}",
        f"dir {node.dir}",
        'save ""',
        "appendonly no",
        "shutdown-timeout 1",
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
    ]
    if replica_of:
        lines.append(f"replicaof {replica_of.host} {replica_of.port}")
    conf = node.dir / "redis.conf"
    conf.write_text("\n".join(lines) + "\n")
    _run([REDIS_SERVER, str(conf)])
    _wait_ping(node.client())


def sentinel_start(node: SentinelNode, *, master: RedisNode, quorum: int) -> None:
    node.dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"port {node.port}",
        f"bind {node.host}",
        "protected-mode no",
        "daemonize yes",
        f"pidfile {node.pid_file}",
        f"logfile {node.dir / 'sentinel.log'}",
        f"dir {node.dir}",
        f"sentinel monitor {SENTINEL_MASTER} {master.host} {master.port} {quorum}",
        f"sentinel down-after-milliseconds {SENTINEL_MASTER} 2000",
        f"sentinel failover-timeout {SENTINEL_MASTER} 6000",
        f"sentinel parallel-syncs {SENTINEL_MASTER} 1",
    ]
    conf = node.dir / "sentinel.conf"  # Sentinel rewrites this file as the topology changes
    conf.write_text("\n".join(lines) + "\n")
    _run([REDIS_SERVER, str(conf), "--sentinel"])
    _wait_ping(node.client())


def sentinels_wait_ready(topology: Topology, *, timeout_s: float = 20) -> None:
    """Wait until every Sentinel sees the master, its replicas and enough peers for the quorum."""
    deadline = time.monotonic() + timeout_s
    want_replicas = len(topology.redis) - 1
    while True:
        ready = 0
        for sentinel in topology.sentinels:
            with contextlib.suppress(redis.RedisError):
                client = sentinel.client()
                replicas = client.sentinel_slaves(SENTINEL_MASTER)
                good = [
                    r for r in replicas if r.get("is_slave") and not r.get("is_sdown") and r.get("master-link-status") == "ok"
                ]
                client.execute_command("SENTINEL CKQUORUM", SENTINEL_MASTER)
                if len(good) >= want_replicas:
                    ready += 1
        if ready == len(topology.sentinels):
            return
        if time.monotonic() > deadline:
            raise TopologyError(f"Sentinels not ready after {timeout_s}s ({ready}/{len(topology.sentinels)})")
        time.sleep(0.2)


def _wait_ping(client: redis.Redis, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise TopologyError("Redis did not answer PING") from None
            time.sleep(0.05)


def _stop_pidfiles(pid_files: list[Path], timeout_s: float = 10) -> None:
    """SIGTERM every Redis/Sentinel of the list at once, then wait (SIGKILL the stragglers)."""
    procs = []
    for pid_file in pid_files:
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if "redis" in proc.name():  # else a recycled pid: not ours
                proc.terminate()
                procs.append(proc)
        pid_file.unlink(missing_ok=True)
    _gone, alive = psutil.wait_procs(procs, timeout=timeout_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
