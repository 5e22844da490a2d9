"""Reads: the region serving now, live node states, failover history."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass

import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError

from failover.models import ActiveRegion, FailoverEvent
from failover.topology import SENTINEL_MASTER, PgNode, Topology, TopologyError

logger = logging.getLogger(__name__)


def active_region() -> str | None:
    """The region serving now after a failover, or None when there is no failover state."""
    try:
        row = ActiveRegion.objects.filter(pk=ActiveRegion.SINGLETON_ID).values_list("region", flat=True).first()
    except DatabaseError:
        # Tables not migrated yet, or the database is failing over: fall back to the setting.
        logger.warning("active region unknown", exc_info=True)
        return None
    return row


def topology_get(root: str | None = None) -> Topology:
    """The topology ``ha_up`` started (``HA_DATA_DIR``); TopologyError when there is none."""
    return Topology.load(root or settings.HA_DATA_DIR)


@dataclass
class NodeState:
    region: str
    port: int
    reachable: bool
    in_recovery: bool | None = None
    read_only: bool | None = None
    wal_lsn: str | None = None  # primary: current WAL position; replica: last replayed
    receive_lsn: str | None = None
    receiver_status: str | None = None
    upstream_port: int | None = None
    replay_paused: bool | None = None
    replay_delay_s: float | None = None
    error: str = ""

    @property
    def is_primary(self) -> bool:
        return self.reachable and self.in_recovery is False and not self.read_only

    @property
    def is_replica(self) -> bool:
        return self.reachable and self.in_recovery is True

    def as_dict(self) -> dict:
        data = asdict(self)
        data["role"] = "primary" if self.is_primary else "replica" if self.is_replica else "fenced" if self.reachable else "down"
        return data


def node_state(node: PgNode, *, timeout_s: int = 2) -> NodeState:
    """Probe one PostgreSQL node (a fresh connection, no pool: this is a health check)."""
    try:
        with node.connect(timeout_s=timeout_s) as conn:
            in_recovery, read_only = conn.execute(
                "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only') = 'on'"
            ).fetchone()
            state = NodeState(region=node.region, port=node.port, reachable=True, in_recovery=in_recovery, read_only=read_only)
            if in_recovery:
                row = conn.execute(
                    "SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text, pg_is_wal_replay_paused(),"
                    " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,"
                    " (SELECT status FROM pg_stat_wal_receiver), (SELECT sender_port FROM pg_stat_wal_receiver)"
                ).fetchone()
                (
                    state.wal_lsn,
                    state.receive_lsn,
                    state.replay_paused,
                    state.replay_delay_s,
                    state.receiver_status,
                    state.upstream_port,
                ) = row
            else:
                state.wal_lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
            return state
    except psycopg.Error as exc:
        return NodeState(region=node.region, port=node.port, reachable=False, error=str(exc).strip().splitlines()[0][:300])


def lsn_bytes(lsn: str | None) -> int:
    """``'0/3000148'`` as a byte position."""
    if not lsn:
        return 0
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def topology_state(topology: Topology) -> list[NodeState]:
    return [node_state(node) for node in topology.pg]


def redis_master(topology: Topology) -> tuple[str, int] | None:
    """The Redis master as the first reachable Sentinel sees it."""
    for sentinel in topology.sentinels:
        with contextlib.suppress(redis.RedisError):
            addr = sentinel.client().sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            if addr:
                return addr[0], int(addr[1])
    return None


def redis_master_region(topology: Topology) -> str | None:
    master = redis_master(topology)
    for node in topology.redis:
        if master and node.port == master[1]:
            return node.region
    return None


def failover_event_list():
    return FailoverEvent.objects.all()


def failover_last():
    return FailoverEvent.objects.exclude(kind=FailoverEvent.Kind.REBUILD).filter(status=FailoverEvent.Status.COMPLETED).first()


def failover_status() -> dict:
    """What the status endpoint shows: serving region, live node roles, last failover."""
    from tier0site.health import current_region

    status = {"current_region": current_region(), "topology": None, "nodes": [], "redis_master": None, "last_failover": None}
    try:
        topology = topology_get()
    except TopologyError:
        # Not the error text: it names the topology's directory (no server paths in answers).
        status["topology"] = "not configured: start it with scripts/ha.sh up"
    else:
        status["topology"] = "configured"
        status["nodes"] = [state.as_dict() for state in topology_state(topology)]
        status["redis_master"] = redis_master_region(topology)
    last = failover_last()
    if last:
        status["last_failover"] = {
            "id": last.id,
            "kind": last.kind,
            "source_region": last.source_region,
            "target_region": last.target_region,
            "total_time": last.total_s,
            "tier0_compliant": last.total_s < 5,
            "timestamp": last.finished_at.isoformat(),
        }
    return status
