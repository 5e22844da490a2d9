"""Where the failover topology's nodes are, and the process control failover needs.

A topology is two regions' PostgreSQL and Redis nodes plus three Sentinels on
loopback ports, described by ``topology.json`` in its data folder (``HA_DATA_DIR``).
``devtools.topology`` creates and starts one (``manage.py ha_up``); the serving
code only loads the layout, so a topology started by anyone is followed.

PostgreSQL refuses to run as root, so its binaries run as the ``postgres`` OS
user (``runuser``) and its folders belong to that user. Which node is the
primary is never stored: it is read from the servers themselves
(``pg_is_in_recovery``, Sentinel).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import psycopg
import redis

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "postgres"
SENTINEL_MASTER = "tier0"
STATE_FILE = "topology.json"
SYNC_LEVELS = ("remote_apply", "on", "remote_write")  # levels that wait for a standby


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

    @classmethod
    def load(cls, root: Path | str) -> Topology:
        path = Path(root) / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise TopologyError(f"no failover topology in {root} (start one with manage.py ha_up, or make run-ha)") from None
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
            # The topology's own database (trust auth on loopback for its superuser): HA_DATABASE_HOSTS
            # then lists every node for it.
            "DATABASE_URL": f"postgres://postgres@{self.pg[0].host}:{self.pg[0].port}/{self.database}",
            "HA_DATA_DIR": self.root,
            "HA_REGIONS": ",".join(self.regions),
            "HA_DATABASE_HOSTS": ",".join(f"{n.host}:{n.port}" for n in self.pg),
            "REDIS_SENTINELS": ",".join(f"{s.host}:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
            "HA_SYNCHRONOUS_COMMIT": self.synchronous_commit,
        }
