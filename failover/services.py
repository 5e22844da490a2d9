"""Failover actions: promote a replica, fail Redis over, rebuild the old primary.

``failover_run`` is the one path for planned switchovers (API, ``manage.py
failover``, drills) and unplanned ones (the watcher, after the primary died):

1. health_check      target reachable, streaming, replay running, lag under the limit
                     (else ``FailoverRefused``: nothing was changed)
2. fence_old_primary planned: old primary read-only + its sessions terminated;
                     unplanned: leftovers killed, ``standby.signal`` dropped in
3. wait_replay       target has replayed everything the old primary wrote
4. promote           ``pg_promote`` (synchronous standby names cleared first: the new
                     primary has no standby until the old one is rebuilt)
5. stop_old_primary  planned: the fenced node stops, so nobody reads stale data from it
6. redis_failover    ``SENTINEL FAILOVER`` towards the target region's Redis
7. switch_region     ActiveRegion row: ``/api/version`` now ends in the target region
8. verify_write      a write on the new primary (and through the app's routing in HA mode)

Each step's duration goes into a ``FailoverEvent`` and, live, to the channel-layer
group ``failover`` (type ``failover.progress``, through ``tier0site.live``: at most
one message a second, each with every step so far, and the final one at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError, connections

from failover import selectors
from failover.models import ActiveRegion, FailoverEvent, WriteProbe
from failover.topology import (
    SENTINEL_MASTER,
    Topology,
    TopologyError,
    pg_fence_dead,
    pg_make_replica,
    pg_set_sync,
    pg_stop,
)
from tier0site import live

logger = logging.getLogger(__name__)


class FailoverError(Exception):
    """Base: the message is meant for the operator; ``event`` is the recorded attempt."""

    status_code = 500

    def __init__(self, message: str, *, event: FailoverEvent | None = None) -> None:
        super().__init__(message)
        self.event = event


class FailoverRefused(FailoverError):
    """Refused before anything changed (unhealthy or lagging target, failover running...)."""

    status_code = 409


class FailoverFailed(FailoverError):
    """Something failed mid-way; the event's steps say where."""


# --- step recording -------------------------------------------------------------------
@dataclass
class StepLog:
    kind: str
    source_region: str
    target_region: str
    publisher: live.Publisher
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    steps: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str):
        entry = {"name": name, "seconds": None, "ok": False, "detail": ""}
        self.steps.append(entry)
        begun = time.monotonic()
        try:
            yield entry
            entry["ok"] = True
        except Exception as exc:
            entry["detail"] = entry["detail"] or str(exc)
            raise
        finally:
            entry["seconds"] = round(time.monotonic() - begun, 4)
            logger.info("failover step", extra={"step": name, "seconds": entry["seconds"], "ok": entry["ok"]})
            self.publisher.add(self.payload("running"))
            self.publisher.flush()

    def payload(self, status: str) -> dict:
        return {
            "status": status,
            "kind": self.kind,
            "source_region": self.source_region,
            "target_region": self.target_region,
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "steps": [dict(s) for s in self.steps],
        }

    def step_seconds(self) -> dict[str, float]:
        return {s["name"]: s["seconds"] for s in self.steps}


def _db_retry(fn, *, timeout_s: float = 15.0):
    """Run an ORM call, reconnecting while the database behind ``default`` changes hands."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except DatabaseError:
            if time.monotonic() > deadline:
                raise
            for conn in connections.all(initialized_only=True):
                with contextlib.suppress(DatabaseError):
                    conn.close()
            time.sleep(0.05)


def _record(log: StepLog, *, status: str, error: str = "", requested_by=None) -> FailoverEvent:
    finished = datetime.now(UTC)
    event = _db_retry(
        lambda: FailoverEvent.objects.create(
            kind=log.kind,
            status=status,
            source_region=log.source_region,
            target_region=log.target_region,
            started_at=log.started_at,
            finished_at=finished,
            total_s=round(time.monotonic() - log.started, 4),
            steps=log.steps,
            details=log.details,
            error=error,
            requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        )
    )
    log.publisher.add({**log.payload(status), "event_id": event.id, "total_s": event.total_s, "error": error})
    log.publisher.flush(force=True)
    return event


@contextlib.contextmanager
def _failover_lock(topology: Topology):
    """One failover or rebuild at a time on this topology."""
    path = Path(topology.root) / "failover.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FailoverRefused("another failover or rebuild is running on this topology") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the failover -------------------------------------------------------------------------
def failover_run(
    *,
    target_region: str,
    unplanned: bool = False,
    requested_by=None,
    topology: Topology | None = None,
    max_lag_bytes: int | None = None,
    replay_timeout_s: float | None = None,
    publish: bool = True,
) -> FailoverEvent:
    """Make ``target_region`` the primary region; see the module docstring for the steps.

    Raises ``FailoverRefused`` (nothing changed) or ``FailoverFailed`` (the event
    tells which step); both carry the recorded event.
    """
    topology = topology or selectors.topology_get()
    if target_region not in topology.regions:
        raise FailoverRefused(f"unknown region {target_region!r}; regions: {', '.join(topology.regions)}")
    max_lag = settings.FAILOVER_MAX_LAG_BYTES if max_lag_bytes is None else max_lag_bytes
    replay_timeout = settings.FAILOVER_REPLAY_TIMEOUT_S if replay_timeout_s is None else replay_timeout_s
    target = topology.pg_node(target_region)
    sources = [n for n in topology.pg if n.region != target_region]
    log = StepLog(
        kind=FailoverEvent.Kind.UNPLANNED if unplanned else FailoverEvent.Kind.PLANNED,
        source_region="",
        target_region=target_region,
        publisher=live.Publisher(live.FAILOVER, enabled=publish),
    )
    with _failover_lock(topology):
        # 1. health and lag of the target; find the primary it replaces.
        try:
            with log.step("health_check") as entry:
                target_state = selectors.node_state(target)
                source_states = [selectors.node_state(n) for n in sources]
                log.details["target"] = target_state.as_dict()
                log.details["sources"] = [s.as_dict() for s in source_states]
                source_state = _check_target(
                    target_state, source_states, unplanned=unplanned, max_lag=max_lag, topology=topology, log=log
                )
                source = topology.pg_node(source_state.region)
                log.source_region = source.region
                entry["detail"] = f"lag {log.details.get('lag_bytes', 0)} bytes"
        except FailoverRefused as exc:
            exc.event = _record(log, status=FailoverEvent.Status.REFUSED, error=str(exc), requested_by=requested_by)
            logger.warning("failover refused", extra={"target": target_region, "reason": str(exc)})
            raise

        fenced = False
        try:
            # 2. fence: from here on no write can land on the old primary.
            with log.step("fence_old_primary") as entry:
                if unplanned:
                    pg_fence_dead(source)
                    entry["detail"] = "processes killed, standby.signal written"
                else:
                    fence_lsn = _fence_read_only(source)
                    fenced = True
                    log.details["fence_lsn"] = fence_lsn
                    entry["detail"] = f"read-only at {fence_lsn}"
            # 3. the target replays everything the old primary wrote (or everything it received).
            with log.step("wait_replay") as entry:
                entry["detail"] = _wait_replay(target, None if unplanned else log.details["fence_lsn"], timeout_s=replay_timeout)
            # 4. promote.
            with log.step("promote"):
                _promote(target)
            fenced = False  # the target is the primary now: never un-fence the old one
        except Exception as exc:
            if fenced:
                # Promotion did not happen: give the old primary its writes back.
                with contextlib.suppress(psycopg.Error):
                    _unfence(source)
                    log.details["rolled_back"] = "old primary writable again"
            event = _record(log, status=FailoverEvent.Status.FAILED, error=str(exc), requested_by=requested_by)
            raise FailoverFailed(f"failover to {target_region} failed: {exc}", event=event) from exc

        try:
            if not unplanned:
                with log.step("stop_old_primary"):
                    pg_stop(source, mode="fast", missing_ok=True)
            with log.step("redis_failover") as entry:
                entry["detail"] = redis_failover(topology=topology, target_region=target_region)
            with log.step("switch_region"):
                _db_retry(lambda: active_region_set(region=target_region))
            with log.step("verify_write") as entry:
                entry["detail"] = _verify_write(topology, target)
        except Exception as exc:  # noqa: BLE001 - recorded and re-raised as FailoverFailed
            event = _record(log, status=FailoverEvent.Status.FAILED, error=str(exc), requested_by=requested_by)
            raise FailoverFailed(
                f"failover to {target_region} promoted the database but then failed: {exc}", event=event
            ) from exc
        event = _record(log, status=FailoverEvent.Status.COMPLETED, requested_by=requested_by)
        _db_retry(lambda: ActiveRegion.objects.filter(pk=ActiveRegion.SINGLETON_ID).update(event=event))
        logger.info("failover completed", extra={"target": target_region, "total_s": event.total_s})
        return event


def _check_target(target_state, source_states, *, unplanned: bool, max_lag: int, topology: Topology, log: StepLog):
    if not target_state.reachable:
        raise FailoverRefused(f"replica {target_state.region} is unhealthy: unreachable ({target_state.error})")
    if not target_state.in_recovery:
        raise FailoverRefused(f"{target_state.region} is already a primary, not a replica")
    primaries = [s for s in source_states if s.is_primary]
    if unplanned:
        if primaries:
            raise FailoverRefused(f"primary {primaries[0].region} is alive: use a planned failover")
        candidates = [s for s in source_states if not s.reachable or s.read_only]
        if not candidates:
            raise FailoverRefused("no dead primary to replace")
        if target_state.replay_paused:
            raise FailoverRefused(f"replica {target_state.region} is unhealthy: WAL replay is paused")
        gap = selectors.lsn_bytes(target_state.receive_lsn) - selectors.lsn_bytes(target_state.wal_lsn)
        log.details["lag_bytes"] = gap
        return candidates[0]
    if not primaries:
        raise FailoverRefused("no reachable primary to switch over from; an unplanned failover (--unplanned) is needed")
    source = primaries[0]
    source_port = topology.pg_node(source.region).port
    if target_state.receiver_status != "streaming" or target_state.upstream_port != source_port:
        raise FailoverRefused(
            f"replica {target_state.region} is unhealthy: not streaming from {source.region} (receiver: {target_state.receiver_status})"
        )
    lag = selectors.lsn_bytes(source.wal_lsn) - selectors.lsn_bytes(target_state.wal_lsn)
    log.details["lag_bytes"] = lag
    if lag > max_lag:
        raise FailoverRefused(f"replica {target_state.region} is too far behind: {lag} bytes of WAL to replay (limit {max_lag})")
    if target_state.replay_paused:
        raise FailoverRefused(f"replica {target_state.region} is unhealthy: WAL replay is paused")
    return source


def _fence_read_only(node) -> str:
    """Old primary: new sessions read-only, current ones terminated; returns its WAL position."""
    with node.connect() as conn:
        conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        conn.execute("SELECT pg_reload_conf()")
        # The reload is asynchronous: wait until a fresh session gets the new default.
        deadline = time.monotonic() + 3
        while True:
            with node.connect() as probe:
                if probe.execute("SHOW default_transaction_read_only").fetchone()[0] == "on":
                    break
            if time.monotonic() > deadline:
                raise FailoverFailed(f"{node.region} did not reload its configuration")
            time.sleep(0.01)
        # Twice: a session forked just before the reload may show up only now.
        for _ in range(2):
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                " AND coalesce(application_name, '') <> 'tier0-failover'"
            )
            time.sleep(0.01)
        return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]


def _unfence(node) -> None:
    with node.connect() as conn:
        conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        conn.execute("SELECT pg_reload_conf()")


def _wait_replay(node, lsn: str | None, *, timeout_s: float) -> str:
    """Wait until ``node`` replayed ``lsn`` (or, without one, all the WAL it received)."""
    deadline = time.monotonic() + timeout_s
    with node.connect() as conn:
        while True:
            replay, receive = conn.execute("SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text").fetchone()
            goal = lsn or receive
            if selectors.lsn_bytes(replay) >= selectors.lsn_bytes(goal):
                return f"replayed {replay}"
            if time.monotonic() > deadline:
                raise FailoverFailed(f"{node.region} replayed only {replay} of {goal} after {timeout_s}s")
            time.sleep(0.005)


def _promote(node) -> None:
    with node.connect() as conn:
        # Until the old primary is rebuilt as its standby, a synchronous commit here
        # would wait forever: the new primary starts asynchronous.
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
        conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        promoted = conn.execute("SELECT pg_promote(true, 30)").fetchone()[0]
        if not promoted:
            raise FailoverFailed(f"{node.region} did not finish promotion in 30 s")
        conn.execute("SELECT pg_reload_conf()")


def _verify_write(topology: Topology, node) -> str:
    with node.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS tier0_failover_probe (at timestamptz NOT NULL, region text NOT NULL)")
        conn.execute("INSERT INTO tier0_failover_probe VALUES (now(), %s)", [node.region])
    detail = f"wrote on {node.region}"
    if settings.HA_DATABASE_HOSTS:
        # The application's own routing must land on the new primary too.
        def app_write():
            probe = WriteProbe.objects.create(region=node.region, server="")
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT inet_server_port()")
                port = cursor.fetchone()[0]
            return probe, port

        probe, port = _db_retry(app_write)
        if port != node.port:
            raise FailoverFailed(f"the application's writes go to port {port}, not to the new primary ({node.port})")
        detail += "; the application's routing follows"
    return detail


def active_region_set(*, region: str) -> ActiveRegion:
    row, _ = ActiveRegion.objects.update_or_create(pk=ActiveRegion.SINGLETON_ID, defaults={"region": region})
    return row


# --- Redis --------------------------------------------------------------------------------
def redis_failover(*, topology: Topology, target_region: str, timeout_s: float = 20.0) -> str:
    """Move the Redis master to ``target_region`` through Sentinel (``SENTINEL FAILOVER``)."""
    target = topology.redis_node(target_region)
    master = selectors.redis_master(topology)
    if master is None:
        raise FailoverFailed("no Sentinel answers")
    if master[1] == target.port:
        return f"Redis master already in {target_region}"
    old = next((n for n in topology.redis if n.port == master[1]), None)
    deadline = time.monotonic() + timeout_s
    sentinel = None
    while sentinel is None:
        for candidate in topology.sentinels:
            client = candidate.client()
            try:
                client.execute_command("SENTINEL FAILOVER", SENTINEL_MASTER)
                sentinel = client
                break
            except redis.RedisError as exc:
                # NOGOODSLAVE while a Sentinel has not yet seen the replica's link come up.
                last_error = str(exc)
        if sentinel is None:
            if time.monotonic() > deadline:
                raise FailoverFailed(f"Sentinel refused the failover: {last_error}")
            time.sleep(0.2)
    while True:
        with contextlib.suppress(redis.RedisError):
            addr = sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            if addr and int(addr[1]) == target.port and target.client().info("replication")["role"] == "master":
                break
        if time.monotonic() > deadline:
            raise FailoverFailed(f"Redis master did not move to {target_region} in {timeout_s}s")
        time.sleep(0.05)
    # Clients ask whichever Sentinel answers first: done when every reachable one agrees
    # (the others learn the new master from hello messages, every 2 s).
    while True:
        views = []
        for candidate in topology.sentinels:
            with contextlib.suppress(redis.RedisError):
                views.append(candidate.client().sentinel_get_master_addr_by_name(SENTINEL_MASTER))
        if views and all(v and int(v[1]) == target.port for v in views):
            break
        if time.monotonic() > deadline:
            raise FailoverFailed(f"Sentinels disagree on the Redis master after {timeout_s}s: {views}")
        time.sleep(0.05)
    if old is not None:
        # Sentinel demotes the old master on its next INFO round (up to 10 s); saying it now
        # makes the pair redundant again at once.
        with contextlib.suppress(redis.RedisError):
            old.client().replicaof(target.host, target.port)
    return f"Redis master {old.region if old else master} -> {target_region}"


# --- failback -------------------------------------------------------------------------------
def node_rebuild(*, region: str, topology: Topology | None = None, requested_by=None, publish: bool = True) -> FailoverEvent:
    """Rebuild ``region`` (an old primary) as a synchronous replica of the current primary.

    ``pg_rewind`` first (it keeps the files and copies only what diverged), a
    fresh ``pg_basebackup`` when rewinding is impossible. Synchronous replication
    is switched back on once the replica streams.
    """
    topology = topology or selectors.topology_get()
    if region not in topology.regions:
        raise FailoverRefused(f"unknown region {region!r}")
    node = topology.pg_node(region)
    log = StepLog(
        kind=FailoverEvent.Kind.REBUILD,
        source_region="",
        target_region=region,
        publisher=live.Publisher(live.FAILOVER, enabled=publish),
    )
    with _failover_lock(topology):
        primaries = [s for s in selectors.topology_state(topology) if s.is_primary and s.region != region]
        if not primaries:
            error = f"no primary to rebuild {region} from"
            event = _record(log, status=FailoverEvent.Status.REFUSED, error=error, requested_by=requested_by)
            raise FailoverRefused(error, event=event)
        primary = topology.pg_node(primaries[0].region)
        log.source_region = primary.region
        try:
            with log.step("rebuild_replica") as entry:
                entry["detail"] = pg_make_replica(node, primary=primary, topology=topology, rewind=True)
            with log.step("synchronous_on") as entry:
                pg_set_sync(primary, topology=topology, on=True)
                entry["detail"] = topology.sync_standby_names() or "asynchronous"
        except (TopologyError, psycopg.Error) as exc:
            event = _record(log, status=FailoverEvent.Status.FAILED, error=str(exc), requested_by=requested_by)
            raise FailoverFailed(f"rebuild of {region} failed: {exc}", event=event) from exc
        return _record(log, status=FailoverEvent.Status.COMPLETED, requested_by=requested_by)
