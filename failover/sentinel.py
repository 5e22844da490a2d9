"""Redis Sentinel commands of a failover: where the master is, and moving it."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from failover.errors import FailoverFailed
from failover.nodes import SENTINEL_MASTER, Topology


def redis_master(topology: Topology, *, timeout_s: float = 1.0) -> tuple[str, int] | None:
    """The Redis master as the Sentinels see it (asked in parallel; the first in list order that answers)."""

    def ask(sentinel):
        with contextlib.suppress(redis.RedisError):
            addr = sentinel.client(timeout_s).sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            if addr:
                return addr[0], int(addr[1])
        return None

    with ThreadPoolExecutor(max_workers=len(topology.sentinels) or 1) as pool:
        answers = list(pool.map(ask, topology.sentinels))
    return next((a for a in answers if a), None)


def redis_master_region(topology: Topology, *, timeout_s: float = 1.0) -> str | None:
    master = redis_master(topology, timeout_s=timeout_s)
    for node in topology.redis:
        if master and node.port == master[1]:
            return node.region
    return None


# Sentinels refresh what they know of a replica every 10 s (INFO), so after the replica's link comes back up they
# may call it unusable for that long: waiting for them has a budget of its own, outside the failover's.
REPLICA_WAIT_S = 30.0


def redis_failover(*, topology: Topology, target_region: str, timeout_s: float = 20.0) -> str:
    """Move the Redis master to ``target_region`` through Sentinel (``SENTINEL FAILOVER``)."""
    target = topology.redis_node(target_region)
    master = redis_master(topology)
    if master is None:
        raise FailoverFailed("no Sentinel answers")
    if master[1] == target.port:
        return f"Redis master already in {target_region}"
    old = next((n for n in topology.redis if n.port == master[1]), None)
    promoted = _wait_good_replica(topology, target, deadline=time.monotonic() + REPLICA_WAIT_S)
    deadline = time.monotonic() + timeout_s
    if not promoted:  # promoted meanwhile (the old master died): asking now would move the master away again
        sentinel = _start_failover(topology, deadline=deadline)
        _wait_master(topology, sentinel, target, deadline=deadline, timeout_s=timeout_s, target_region=target_region)
    _wait_sentinels_agree(topology, target, deadline=deadline, timeout_s=timeout_s)
    if old is not None:
        # Sentinel demotes the old master on its next INFO round (up to 10 s); saying it now
        # makes the pair redundant again at once.
        with contextlib.suppress(redis.RedisError):
            old.client().replicaof(target.host, target.port)
    return f"Redis master {old.region if old else master} -> {target_region}"


def _wait_good_replica(topology: Topology, target, *, deadline: float) -> bool:
    """Wait until ``target`` replicates and the Sentinels see it so; True when it is a master already (the
    Sentinels promoted it themselves meanwhile).

    Just after an earlier switch the demoted master resyncs for a moment: Sentinel
    accepts ``SENTINEL FAILOVER`` then, finds no good replica, aborts, and waits
    twice its failover timeout before trying again. Waiting here costs less.
    """
    while True:
        with contextlib.suppress(redis.RedisError):
            info = target.client().info("replication")
            if info.get("role") == "master":
                return True
            if info.get("role") == "slave" and info.get("master_link_status") == "up":
                views = [_replica_ok(s.client(), target) for s in topology.sentinels]
                if sum(views) > len(topology.sentinels) // 2:
                    return False
        if time.monotonic() > deadline:
            return False  # let Sentinel answer for itself (NOGOODSLAVE says why)
        time.sleep(0.05)


def _replica_ok(client: redis.Redis, target) -> bool:
    with contextlib.suppress(redis.RedisError):
        for replica in client.sentinel_slaves(SENTINEL_MASTER):
            if int(replica.get("port", 0)) == target.port:
                return (
                    not replica.get("is_sdown")
                    and not replica.get("is_disconnected")
                    and replica.get("master-link-status") == "ok"
                )
    return False


def _start_failover(topology: Topology, *, deadline: float) -> redis.Redis:
    """``SENTINEL FAILOVER`` on the first Sentinel that accepts it; returns that Sentinel's client."""
    last_error = ""
    while True:
        for candidate in topology.sentinels:
            client = candidate.client()
            try:
                client.execute_command("SENTINEL FAILOVER", SENTINEL_MASTER)
                return client
            except redis.RedisError as exc:
                # NOGOODSLAVE while a Sentinel has not yet seen the replica's link come up.
                last_error = str(exc)
        if time.monotonic() > deadline:
            raise FailoverFailed(f"Sentinel refused the failover: {last_error}")
        time.sleep(0.2)


def _wait_master(
    topology: Topology, sentinel: redis.Redis, target, *, deadline: float, timeout_s: float, target_region: str
) -> None:
    """Until the Sentinel names ``target`` and it says it is the master. A Sentinel that gives up on the failover
    (it found no usable replica when it came to choose one, or the replica did not take the promotion within its
    failover timeout) clears its "failover in progress" flag without moving the master: it is asked again. The flag
    is read before the address, so a failover that ends between the two reads shows the new address, never a
    finished failover taken for an abandoned one (asking again then would move the master back)."""
    attempts = 1
    while True:
        with contextlib.suppress(redis.RedisError):
            flags = sentinel.sentinel_master(SENTINEL_MASTER)["flags"].split(",")
            addr = sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            if addr and int(addr[1]) == target.port:
                if target.client().info("replication")["role"] == "master":
                    return
            elif "failover_in_progress" not in flags:
                sentinel = _start_failover(topology, deadline=deadline)
                attempts += 1
        if time.monotonic() > deadline:
            raise FailoverFailed(f"Redis master did not move to {target_region} in {timeout_s}s ({attempts} attempts)")
        time.sleep(0.05)


def _wait_sentinels_agree(topology: Topology, target, *, deadline: float, timeout_s: float) -> None:
    """Clients ask whichever Sentinel answers first: done when every reachable one agrees
    (the others learn the new master from hello messages, every 2 s)."""
    while True:
        views = []
        for candidate in topology.sentinels:
            with contextlib.suppress(redis.RedisError):
                views.append(candidate.client().sentinel_get_master_addr_by_name(SENTINEL_MASTER))
        if views and all(v and int(v[1]) == target.port for v in views):
            return
        if time.monotonic() > deadline:
            raise FailoverFailed(f"Sentinels disagree on the Redis master after {timeout_s}s: {views}")
        time.sleep(0.05)
