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
group ``failover`` (``failover.steps``, through ``tier0site.live``). This module is
the orchestration; the PostgreSQL commands are in ``failover.pg``, Sentinel's in
``failover.sentinel``, the live probes in ``failover.probes``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections

from failover import pg, probes, selectors
from failover.errors import FailoverError, FailoverFailed, FailoverRefused
from failover.models import ActiveRegion, FailoverEvent, WriteProbe
from failover.nodes import Topology, TopologyError
from failover.sentinel import redis_failover
from failover.steps import StepLog, db_retry, progress_publisher, record

__all__ = ["FailoverError", "FailoverFailed", "FailoverRefused", "active_region_set", "failover_run", "node_rebuild"]

logger = logging.getLogger(__name__)


def _topology_or_refuse() -> Topology:
    try:
        return selectors.topology_get()
    except TopologyError as exc:
        raise FailoverRefused(str(exc)) from None  # nothing to fail over: said, not a traceback


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
    topology = topology or _topology_or_refuse()
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
        publisher=progress_publisher(enabled=publish),
    )
    with _failover_lock(topology):
        # 1. health and lag of the target; find the primary it replaces.
        try:
            with log.step("health_check") as entry:
                target_state = probes.node_state(target)
                source_states = [probes.node_state(n) for n in sources]
                log.details["target"] = target_state.as_dict()
                log.details["sources"] = [s.as_dict() for s in source_states]
                source_state = _check_target(
                    target_state, source_states, unplanned=unplanned, max_lag=max_lag, topology=topology, log=log
                )
                source = topology.pg_node(source_state.region)
                log.source_region = source.region
                entry["detail"] = f"lag {log.details.get('lag_bytes', 0)} bytes"
        except FailoverRefused as exc:
            exc.event = record(log, status=FailoverEvent.Status.REFUSED, error=str(exc), requested_by=requested_by)
            logger.warning("failover refused", extra={"target": target_region, "reason": str(exc)})
            raise

        fenced = False
        try:
            # 2. fence: from here on no write can land on the old primary.
            with log.step("fence_old_primary") as entry:
                if unplanned:
                    pg.pg_fence_dead(source)
                    entry["detail"] = "processes killed, standby.signal written"
                else:
                    fence_lsn = pg.fence_read_only(source)
                    fenced = True
                    log.details["fence_lsn"] = fence_lsn
                    entry["detail"] = f"read-only at {fence_lsn}"
            # 3. the target replays everything the old primary wrote (or everything it received).
            with log.step("wait_replay") as entry:
                entry["detail"] = pg.wait_replay(
                    target, None if unplanned else log.details["fence_lsn"], timeout_s=replay_timeout
                )
            # 4. promote.
            with log.step("promote"):
                pg.promote(target)
            fenced = False  # the target is the primary now: never un-fence the old one
        except Exception as exc:
            if fenced:
                # Promotion did not happen: give the old primary its writes back.
                with contextlib.suppress(psycopg.Error):
                    pg.unfence(source)
                    log.details["rolled_back"] = "old primary writable again"
            event = record(log, status=FailoverEvent.Status.FAILED, error=str(exc), requested_by=requested_by)
            raise FailoverFailed(f"failover to {target_region} failed: {exc}", event=event) from exc

        try:
            if not unplanned:
                with log.step("stop_old_primary"):
                    pg.pg_stop(source, mode="fast", missing_ok=True)
            with log.step("redis_failover") as entry:
                entry["detail"] = redis_failover(topology=topology, target_region=target_region)
            with log.step("switch_region"):
                db_retry(lambda: active_region_set(region=target_region))
            with log.step("verify_write") as entry:
                entry["detail"] = _verify_write(topology, target)
        except Exception as exc:  # recorded and re-raised as FailoverFailed
            event = record(log, status=FailoverEvent.Status.FAILED, error=str(exc), requested_by=requested_by)
            raise FailoverFailed(
                f"failover to {target_region} promoted the database but then failed: {exc}", event=event
            ) from exc
        event = record(log, status=FailoverEvent.Status.COMPLETED, requested_by=requested_by)
        db_retry(lambda: ActiveRegion.objects.filter(pk=ActiveRegion.SINGLETON_ID).update(event=event))
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
        gap = pg.lsn_bytes(target_state.receive_lsn) - pg.lsn_bytes(target_state.wal_lsn)
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
    lag = pg.lsn_bytes(source.wal_lsn) - pg.lsn_bytes(target_state.wal_lsn)
    log.details["lag_bytes"] = lag
    if lag > max_lag:
        raise FailoverRefused(f"replica {target_state.region} is too far behind: {lag} bytes of WAL to replay (limit {max_lag})")
    if target_state.replay_paused:
        raise FailoverRefused(f"replica {target_state.region} is unhealthy: WAL replay is paused")
    return source


def _verify_write(topology: Topology, node) -> str:
    pg.write_probe(node)
    detail = f"wrote on {node.region}"
    if settings.HA_DATABASE_HOSTS:
        # The application's own routing must land on the new primary too.
        def app_write():
            probe = WriteProbe.objects.create(region=node.region, server="")
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT inet_server_port()")
                port = cursor.fetchone()[0]
            return probe, port

        _probe, port = db_retry(app_write)
        if port != node.port:
            raise FailoverFailed(f"the application's writes go to port {port}, not to the new primary ({node.port})")
        detail += "; the application's routing follows"
    return detail


def active_region_set(*, region: str) -> ActiveRegion:
    row, _ = ActiveRegion.objects.update_or_create(pk=ActiveRegion.SINGLETON_ID, defaults={"region": region})
    return row


# --- failback -------------------------------------------------------------------------------
def node_rebuild(*, region: str, topology: Topology | None = None, requested_by=None, publish: bool = True) -> FailoverEvent:
    """Rebuild ``region`` (an old primary) as a synchronous replica of the current primary.

    ``pg_rewind`` first (it keeps the files and copies only what diverged), a
    fresh ``pg_basebackup`` when rewinding is impossible. Synchronous replication
    is switched back on once the replica streams.
    """
    topology = topology or _topology_or_refuse()
    if region not in topology.regions:
        raise FailoverRefused(f"unknown region {region!r}")
    node = topology.pg_node(region)
    log = StepLog(
        kind=FailoverEvent.Kind.REBUILD, source_region="", target_region=region, publisher=progress_publisher(enabled=publish)
    )
    with _failover_lock(topology):
        primaries = [s for s in probes.topology_state(topology) if s.is_primary and s.region != region]
        if not primaries:
            error = f"no primary to rebuild {region} from"
            event = record(log, status=FailoverEvent.Status.REFUSED, error=error, requested_by=requested_by)
            raise FailoverRefused(error, event=event)
        primary = topology.pg_node(primaries[0].region)
        log.source_region = primary.region
        try:
            with log.step("rebuild_replica") as entry:
                entry["detail"] = pg.pg_make_replica(node, primary=primary, topology=topology, rewind=True)
            with log.step("synchronous_on") as entry:
                pg.pg_set_sync(primary, topology=topology, on=True)
                entry["detail"] = topology.sync_standby_names() or "asynchronous"
        except (TopologyError, psycopg.Error) as exc:
            event = record(log, status=FailoverEvent.Status.FAILED, error=str(exc), requested_by=requested_by)
            raise FailoverFailed(f"rebuild of {region} failed: {exc}", event=event) from exc
        return record(log, status=FailoverEvent.Status.COMPLETED, requested_by=requested_by)
