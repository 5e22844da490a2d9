"""The failover topology on this machine: PostgreSQL primary + streaming replica, Redis + Sentinels.

Everything runs from the Debian binaries on loopback ports and in a data folder
of its own (``.run/ha`` by default, a temporary folder in tests), never on the
machine's own PostgreSQL (5432) or Redis (6379). PostgreSQL refuses to run as
root, so its binaries run as the ``postgres`` OS user (``runuser``) and its
folders belong to that user.

Region N owns PostgreSQL node N and Redis node N. Which node is the primary is
never stored here: it is read from the servers themselves (``pg_is_in_recovery``,
Sentinel), so a promotion made by anyone is followed.

The layout is written to ``topology.json`` in the data folder, so ``ha_down``,
the orchestrator and the watcher find the same nodes ``ha_up`` started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import psycopg
import redis

logger = logging.getLogger(__name__)

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "postgres"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SENTINEL_MASTER = "tier0"
STATE_FILE = "topology.json"
SYNC_LEVELS = ("remote_apply", "on", "remote_write")  # levels that wait for a standby

# Shared by both nodes (pg_basebackup copies it); port and name come from the
# command line so the same file serves every node.
POSTGRESQL_CONF = """
# --- tier0 failover topology (failover/topology.py) ---
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], *, as_postgres: bool = False, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    name = Path(args[0]).name
    if as_postgres and os.geteuid() == 0:
        args = ["runuser", "-u", PG_OS_USER, "--", *args]
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if check and result.returncode != 0:
        raise TopologyError(f"{name} failed: {(result.stderr or result.stdout).strip()[-800:]}")
    return result


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, PG_OS_USER, PG_OS_USER)


class TopologyError(RuntimeError):
    """A node could not be started, stopped or rebuilt."""


@dataclass
class PgNode:
    region: str
    port: int
    root: str
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return Path(self.root) / "pg" / self.region

    @property
    def log_file(self) -> Path:
        return Path(self.root) / "log" / f"pg-{self.region}.log"

    @property
    def sock_dir(self) -> Path:
        return Path(self.root) / "sock"

    @property
    def slot(self) -> str:
        return f"{self.region}_slot"

    @property
    def cluster_name(self) -> str:
        return f"tier0ha-{self.port}-{self.region}"

    def conninfo(self, dbname: str = "postgres", **extra) -> str:
        parts = {"host": self.host, "port": self.port, "user": "postgres", "dbname": dbname, "connect_timeout": 2, **extra}
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def connect(self, dbname: str = "postgres", *, timeout_s: int = 2) -> psycopg.Connection:
        return psycopg.connect(
            self.conninfo(dbname, connect_timeout=timeout_s, application_name="tier0-failover"), autocommit=True
        )

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        return bool(pid) and _is_postgres(pid)

    def processes(self) -> list[psutil.Process]:
        """Every live process of this node, including backends orphaned by a killed postmaster."""
        found = []
        for proc in psutil.process_iter(["cmdline", "name"]):
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.info["cmdline"] or [])
                if f"{self.cluster_name}:" in cmd or (str(self.data_dir) in cmd and "postgres" in (proc.info["name"] or "")):
                    found.append(proc)
        return found


def _is_postgres(pid: int) -> bool:
    """A live (not zombie) PostgreSQL process: a killed postmaster may linger unreaped."""
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        return "postgres" in proc.name() and proc.status() != psutil.STATUS_ZOMBIE
    return False


def _redis_client(host: str, port: int, timeout_s: float) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True)


@dataclass
class RedisNode:
    region: str
    port: int
    root: str
    host: str = "127.0.0.1"

    @property
    def dir(self) -> Path:
        return Path(self.root) / "redis" / f"{self.region}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "redis.pid"

    def client(self, timeout_s: float = 1.0) -> redis.Redis:
        return _redis_client(self.host, self.port, timeout_s)


@dataclass
class SentinelNode:
    port: int
    root: str
    host: str = "127.0.0.1"

    @property
    def dir(self) -> Path:
        return Path(self.root) / "sentinel" / str(self.port)

    @property
    def pid_file(self) -> Path:
        return self.dir / "sentinel.pid"

    def client(self, timeout_s: float = 1.0) -> redis.Redis:
        return _redis_client(self.host, self.port, timeout_s)


@dataclass
class Topology:
    """Two regions' PostgreSQL and Redis nodes plus three Sentinels, under one data folder."""

    root: str
    database: str
    synchronous_commit: str
    pg: list[PgNode] = field(default_factory=list)
    redis: list[RedisNode] = field(default_factory=list)
    sentinels: list[SentinelNode] = field(default_factory=list)
    quorum: int = 2

    # --- construction and state ---------------------------------------------------
    @classmethod
    def create(
        cls,
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

        return cls(
            root=root,
            database=database,
            synchronous_commit=synchronous_commit,
            pg=[PgNode(region=r, port=port(), root=root) for r in regions],
            redis=[RedisNode(region=r, port=port(), root=root) for r in regions],
            sentinels=[SentinelNode(port=port(), root=root) for _ in range(3)],
        )

    @classmethod
    def load(cls, root: Path | str) -> Topology:
        path = Path(root) / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise TopologyError(f"no failover topology in {root} (run manage.py ha_up)") from None
        return cls(
            root=data["root"],
            database=data["database"],
            synchronous_commit=data["synchronous_commit"],
            pg=[PgNode(**n) for n in data["pg"]],
            redis=[RedisNode(**n) for n in data["redis"]],
            sentinels=[SentinelNode(**n) for n in data["sentinels"]],
            quorum=data.get("quorum", 2),
        )

    def save(self) -> None:
        path = Path(self.root) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @property
    def regions(self) -> list[str]:
        return [n.region for n in self.pg]

    def pg_node(self, region: str) -> PgNode:
        for node in self.pg:
            if node.region == region:
                return node
        raise KeyError(region)

    def redis_node(self, region: str) -> RedisNode:
        for node in self.redis:
            if node.region == region:
                return node
        raise KeyError(region)

    @property
    def sync_on(self) -> bool:
        return self.synchronous_commit in SYNC_LEVELS

    def sync_standby_names(self) -> str:
        return "ANY 1 (" + ", ".join(self.regions) + ")" if self.sync_on else ""

    def env(self) -> dict[str, str]:
        """The environment that points the application at this topology (see settings/base.py)."""
        return {
            "HA_DATA_DIR": self.root,
            "HA_REGIONS": ",".join(self.regions),
            "HA_DATABASE_HOSTS": ",".join(f"{n.host}:{n.port}" for n in self.pg),
            "REDIS_SENTINELS": ",".join(f"{s.host}:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
            "HA_SYNCHRONOUS_COMMIT": self.synchronous_commit,
        }

    # --- whole topology -----------------------------------------------------------
    def up(self) -> Topology:
        """Start region 1 as primary and region 2 as its synchronous replica; Redis likewise."""
        root = Path(self.root)
        for sub in ("pg", "log", "sock"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        for path in (root, root / "pg", root / "log", root / "sock"):
            _chown_postgres(path)
        self.save()
        primary, *replicas = self.pg
        # Redis first: Sentinels need a couple of seconds of hello messages to see each other.
        redis_start(self.redis[0])
        for node in self.redis[1:]:
            redis_start(node, replica_of=self.redis[0])
        for sentinel in self.sentinels:
            sentinel_start(sentinel, master=self.redis[0], quorum=self.quorum)
        pg_initdb(primary)
        pg_write_role(primary, topology=self, primary_of=None, sync=False)
        pg_start(primary)
        with primary.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        for replica in replicas:
            pg_make_replica(replica, primary=primary, topology=self)
        pg_set_sync(primary, topology=self, on=True)
        sentinels_wait_ready(self)
        logger.info("failover topology up", extra={"root": self.root})
        return self

    def down(self) -> None:
        """Stop every node (fast shutdown, then SIGKILL of what is left); data stays."""
        for node in self.pg:
            pg_stop(node, mode="fast", missing_ok=True)
            for proc in node.processes():
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        _stop_pidfiles([node.pid_file for node in [*self.sentinels, *self.redis]])
        logger.info("failover topology down", extra={"root": self.root})


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


def pg_write_role(node: PgNode, *, topology: Topology, primary_of: PgNode | None, sync: bool = True) -> None:
    """Rewrite the node's ``postgresql.auto.conf`` for its role (node stopped).

    A standby gets ``standby.signal``, its upstream and its replication slot; every
    node gets the synchronous settings so a promoted standby keeps them. A
    primary without a standby yet starts with ``sync=False``: otherwise its first
    commit would wait for a standby that does not exist.
    """
    lines = [
        "# Managed by failover/topology.py; ALTER SYSTEM may add to it at run time.",
        f"synchronous_commit = '{topology.synchronous_commit}'",
        f"synchronous_standby_names = '{topology.sync_standby_names() if sync else ''}'",
        "default_transaction_read_only = off",
    ]
    signal_file = node.data_dir / "standby.signal"
    if primary_of is not None:
        lines += [
            f"primary_conninfo = 'host={primary_of.host} port={primary_of.port} user=postgres application_name={node.region}'",
            f"primary_slot_name = '{node.slot}'",
            "recovery_target_timeline = 'latest'",
        ]
        signal_file.touch()
        _chown_postgres(signal_file)
    else:
        signal_file.unlink(missing_ok=True)
    auto = node.data_dir / "postgresql.auto.conf"
    auto.write_text("\n".join(lines) + "\n")
    _chown_postgres(auto)


def pg_start(node: PgNode, *, timeout_s: int = 60) -> None:
    if node.is_running():
        return
    node.log_file.parent.mkdir(parents=True, exist_ok=True)
    options = f"-p {node.port} -k {node.sock_dir} -c cluster_name={node.cluster_name}"
    _run(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(node.data_dir),
            "-l",
            str(node.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(timeout_s),
            "start",
        ],
        as_postgres=True,
        timeout=timeout_s + 10,
    )


def pg_stop(node: PgNode, *, mode: str = "fast", missing_ok: bool = False, timeout_s: int = 30) -> None:
    if not node.is_running():
        if not missing_ok and not node.data_dir.exists():
            raise TopologyError(f"{node.region}: no data folder")
        return
    _run(
        [str(PG_BIN / "pg_ctl"), "-D", str(node.data_dir), "-m", mode, "-w", "-t", str(timeout_s), "stop"],
        as_postgres=True,
        check=False,
    )


def pg_kill(node: PgNode) -> int | None:
    """SIGKILL the postmaster (an unplanned failure); returns its pid."""
    pid = node.postmaster_pid()
    if pid and _is_postgres(pid):
        os.kill(pid, signal.SIGKILL)
        return pid
    return None


def pg_fence_dead(node: PgNode) -> None:
    """Make sure a node that stopped answering can never come back as a primary.

    Its surviving processes are killed (a postmaster killed with SIGKILL leaves
    backends behind for a moment) and ``standby.signal`` is dropped into its data
    folder: restarted by anyone, it comes up read-only.
    """
    for proc in node.processes():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    if node.data_dir.exists():
        signal_file = node.data_dir / "standby.signal"
        signal_file.touch()
        _chown_postgres(signal_file)


def pg_make_replica(node: PgNode, *, primary: PgNode, topology: Topology, rewind: bool = False) -> str:
    """(Re)build ``node`` as a streaming replica of ``primary``; returns the method used.

    With ``rewind`` an old primary is first wound back with ``pg_rewind`` (fast,
    keeps its files); when that fails, or without ``rewind``, it gets a fresh
    ``pg_basebackup``. The replica's slot is created on the primary first, so no
    WAL it needs is recycled.
    """
    with primary.connect() as conn:
        row = conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [node.slot]).fetchone()
        if row is None:
            conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", [node.slot])
        if rewind:
            # A just-promoted source records its new timeline in pg_control only at its
            # next checkpoint; pg_rewind reads the timeline from there.
            conn.execute("CHECKPOINT")
    pg_stop(node, mode="fast", missing_ok=True)
    pg_fence_dead(node)  # leftover processes of a killed node would keep files open
    method = ""
    if rewind and (node.data_dir / "PG_VERSION").exists():
        # A killed node has no clean shutdown record; pg_rewind recovers it in single-user
        # mode first, which refuses to run with standby.signal present.
        (node.data_dir / "standby.signal").unlink(missing_ok=True)
        result = _run(
            [str(PG_BIN / "pg_rewind"), "-D", str(node.data_dir), "--source-server", primary.conninfo(), "--no-sync"],
            as_postgres=True,
            check=False,
            timeout=300,
        )
        if result.returncode == 0:
            method = "pg_rewind"
        else:
            logger.warning(
                "pg_rewind failed, taking a base backup", extra={"region": node.region, "stderr": result.stderr[-500:]}
            )
    if not method:
        if node.data_dir.exists():
            shutil.rmtree(node.data_dir)
        node.data_dir.mkdir(parents=True)
        node.data_dir.chmod(0o700)
        _chown_postgres(node.data_dir)
        _run(
            [
                str(PG_BIN / "pg_basebackup"),
                "-D",
                str(node.data_dir),
                "-d",
                primary.conninfo(),
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            as_postgres=True,
            timeout=600,
        )
        method = "pg_basebackup"
    pg_write_role(node, topology=topology, primary_of=primary)
    # Stale leftovers of the old life of this folder must not confuse the new server.
    for stale in ("postmaster.pid", "recovery.signal"):
        (node.data_dir / stale).unlink(missing_ok=True)
    pg_start(node)
    pg_wait_streaming(primary, node)
    return method


def pg_set_sync(node: PgNode, *, topology: Topology, on: bool) -> None:
    """Turn synchronous replication on (when the topology asks for it) or off on a running node.

    Off is for a primary left without any standby (after a failover, before the
    old primary is rebuilt): it keeps taking writes instead of waiting forever.
    """
    names = topology.sync_standby_names() if on else ""
    with node.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
        conn.execute("SELECT pg_reload_conf()")


def pg_wait_streaming(primary: PgNode, replica: PgNode, *, timeout_s: float = 30) -> None:
    """Wait until ``replica`` streams from ``primary`` and has replayed what the primary had then.

    Replay, not just a connection: a replica on a wrong timeline connects, streams
    for a moment and never applies anything, and a synchronous primary waiting
    for it would stop taking writes.
    """
    deadline = time.monotonic() + timeout_s
    goal = None
    while True:
        with contextlib.suppress(psycopg.Error), primary.connect() as conn:
            if goal is None:
                goal = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            row = conn.execute(
                "SELECT replay_lsn >= %s FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'",
                [goal, replica.region],
            ).fetchone()
            if row and row[0]:
                return
        if time.monotonic() > deadline:
            raise TopologyError(f"{replica.region} is not replaying from {primary.region} after {timeout_s}s")
        time.sleep(0.05)


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
