"""Live probes of the topology's servers: node roles, replication, the Redis master.

Probes talk to the servers (fresh connections with short timeouts, never the
app's pool), so they live here and not in ``selectors`` (database reads only).
``failover_status`` runs them in parallel under one deadline: the status answers
within ``FAILOVER_STATUS_DEADLINE_S`` whatever is down, naming what did not answer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from django.conf import settings

from failover import selectors
from failover.nodes import STATE_FILE, PgNode, Topology, TopologyError
from failover.sentinel import redis_master_region

logger = logging.getLogger(__name__)

HINT_NOT_CONFIGURED = (
    "The HA topology is not configured: start it and the whole system on it with `make run-ha`"
    " (or `manage.py ha_up`, then load its ha.env)."
)
HINT_STARTED_NOT_USED = (
    "An HA topology was started (manage.py ha_up) but this server does not use it: restart with `make run-ha` to serve from it."
)
HINT_NO_LAYOUT = "HA_DATABASE_HOSTS is set but HA_DATA_DIR holds no topology layout: start it with `make run-ha`."
# Connection failures, reduced to what an operator can act on (no hosts, paths or libpq text).
_REASONS = (
    ("connection refused", "connection refused"),
    ("timeout expired", "no answer (timeout)"),
    ("starting up", "starting up"),
    ("shutting down", "shutting down"),
    ("authentication failed", "authentication failed"),
    ("does not exist", "database missing"),
    ("too many", "too many connections"),
)


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

    @property
    def role(self) -> str:
        return "primary" if self.is_primary else "replica" if self.is_replica else "fenced" if self.reachable else "down"

    def as_dict(self) -> dict:
        return {**asdict(self), "role": self.role}


def failure_reason(exc: Exception) -> str:
    text = str(exc).lower()
    return next((reason for needle, reason in _REASONS if needle in text), "unreachable")


def node_state(node: PgNode, *, timeout_s: int = 2) -> NodeState:
    """Probe one PostgreSQL node (a fresh connection, no pool: this is a health check)."""
    try:
        with node.connect(timeout_s=timeout_s) as conn:
            in_recovery, read_only = conn.execute(
                "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only') = 'on'"
            ).fetchone()
            state = NodeState(region=node.region, port=node.port, reachable=True, in_recovery=in_recovery, read_only=read_only)
            if in_recovery:
                (
                    state.wal_lsn,
                    state.receive_lsn,
                    state.replay_paused,
                    state.replay_delay_s,
                    state.receiver_status,
                    state.upstream_port,
                ) = conn.execute(
                    "SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text, pg_is_wal_replay_paused(),"
                    " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,"
                    " (SELECT status FROM pg_stat_wal_receiver), (SELECT sender_port FROM pg_stat_wal_receiver)"
                ).fetchone()
            else:
                state.wal_lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
            return state
    except psycopg.Error as exc:
        return NodeState(region=node.region, port=node.port, reachable=False, error=failure_reason(exc))


def topology_state(topology: Topology) -> list[NodeState]:
    """Every PostgreSQL node's state, probed in parallel."""
    with ThreadPoolExecutor(max_workers=len(topology.pg) or 1) as pool:
        return list(pool.map(node_state, topology.pg))


def ha_configured() -> bool:
    return bool(settings.HA_DATABASE_HOSTS or settings.REDIS_SENTINELS)


def failover_status(*, deadline_s: float | None = None) -> dict:
    """What the status endpoint shows: configured or not (with a hint), serving region, live nodes, last failover."""
    status = {
        "configured": ha_configured(),
        "hint": "",
        "current_region": selectors.current_region(),
        "regions": [],
        "nodes": [],
        "redis_master": None,
        "last_failover": selectors.failover_last_dict(),
    }
    if not status["configured"]:
        started = (Path(settings.HA_DATA_DIR) / STATE_FILE).exists()
        status["hint"] = HINT_STARTED_NOT_USED if started else HINT_NOT_CONFIGURED
        return status
    try:
        topology = selectors.topology_get()
    except TopologyError:
        status["hint"] = HINT_NO_LAYOUT
        return status
    status["regions"] = topology.regions
    status.update(_probe_all(topology, deadline_s=settings.FAILOVER_STATUS_DEADLINE_S if deadline_s is None else deadline_s))
    return status


def _probe_all(topology: Topology, *, deadline_s: float) -> dict:
    """Nodes and Redis master probed at once; whatever has not answered by the deadline is reported as such."""
    pool = ThreadPoolExecutor(max_workers=len(topology.pg) + 1, thread_name_prefix="failover-probe")
    try:
        nodes = {pool.submit(node_state, node, timeout_s=2): node for node in topology.pg}
        master = pool.submit(redis_master_region, topology, timeout_s=min(deadline_s, 1.0))
        wait([*nodes, master], timeout=deadline_s)
    finally:
        # Late probes finish on their own (bounded by their connect timeout); nobody waits for them.
        pool.shutdown(wait=False, cancel_futures=True)
    states = []
    for future, node in nodes.items():
        if future.done() and future.exception() is None:
            states.append(future.result().as_dict())
        else:
            states.append(
                {
                    **NodeState(region=node.region, port=node.port, reachable=False).as_dict(),
                    "role": "unknown",
                    "error": f"no answer within {deadline_s:g} s",
                }
            )
    redis_region = master.result() if master.done() and master.exception() is None else None
    return {"nodes": states, "redis_master": redis_region}
