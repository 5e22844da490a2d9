"""One failover topology for the whole session, on free loopback ports in a temp folder.

It is stopped and deleted at the end even when tests fail. ``healthy`` brings it
back to "one primary, one streaming synchronous replica, Redis master with a
replica" before each test, whatever the previous test did to it.
"""

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connections

from devtools.topology import topology_create, topology_down, topology_up
from failover import probes, sentinel, services
from failover.nodes import Topology
from failover.pg import pg_set_sync

LOG_TAIL_LINES = 40


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test on the topology carries the end of every node's log (Sentinel, Redis, PostgreSQL) in its
    report: the folder is deleted at the end of the session, and without them a failure in CI cannot say why."""
    outcome = yield
    report = outcome.get_result()
    topology = item.funcargs.get("ha") if report.failed else None
    if topology is None:
        return
    for log in sorted(Path(topology.root).rglob("*.log")):
        with contextlib.suppress(OSError):
            tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            report.sections.append((f"{log.relative_to(topology.root)} (last {LOG_TAIL_LINES} lines)", "\n".join(tail)))


def register_alias(topology: Topology, alias: str, *, target_session_attrs: str, options: str = "") -> None:
    """A database alias on the HA cluster (libpq multi-host), added at run time."""
    base = dict(settings.DATABASES["default"])
    entry = {
        **base,
        "NAME": topology.database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": ",".join(n.host for n in topology.pg),
        "PORT": ",".join(str(n.port) for n in topology.pg),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "connect_timeout": 2,
            "target_session_attrs": target_session_attrs,
            **({"options": options} if options else {}),
        },
        "TEST": {},
    }
    connections.settings[alias] = connections.configure_settings({"default": base, alias: entry})[alias]


def drop_alias(alias: str) -> None:
    if alias in connections.settings:
        try:
            connections[alias].close()
        finally:
            del connections.settings[alias]
            if hasattr(connections._connections, alias):
                delattr(connections._connections, alias)


@pytest.fixture(scope="session")
def ha(django_db_blocker):
    from django.core.management import call_command

    # /tmp itself: the postgres user must be able to reach the folder (pytest's tmp is root-only).
    root = tempfile.mkdtemp(prefix="tier0-ha-test-")
    topology = topology_create(root, database="tier0_ha_test")
    previous = settings.HA_DATA_DIR, settings.REDIS_SENTINELS
    try:
        topology_up(topology)
        # The app's own database and cache stay as they are (settings are read at start-up);
        # the failover code sees the topology as configured.
        settings.HA_DATA_DIR = root
        settings.REDIS_SENTINELS = [f"{s.host}:{s.port}" for s in topology.sentinels]
        with django_db_blocker.unblock():
            register_alias(topology, "ha_migrate", target_session_attrs="read-write")
            try:
                call_command("migrate", "failover", database="ha_migrate", verbosity=0)
            finally:
                drop_alias("ha_migrate")
        yield topology
    finally:
        settings.HA_DATA_DIR, settings.REDIS_SENTINELS = previous
        topology_down(topology)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def healthy(ha, db):
    """(primary region, replica region) with replication and Redis replication working."""
    states = probes.topology_state(ha)
    primaries = [s.region for s in states if s.is_primary]
    assert len(primaries) == 1, f"topology has no single primary: {[s.as_dict() for s in states]}"
    primary = primaries[0]
    for state in states:
        if state.region != primary and not (
            state.is_replica and state.receiver_status == "streaming" and not state.replay_paused
        ):
            services.node_rebuild(region=state.region, topology=ha, publish=False)
    pg_set_sync(ha.pg_node(primary), topology=ha, on=True)
    master = sentinel.redis_master(ha)
    for node in ha.redis:
        if node.port != master[1]:
            info = node.client().info("replication")
            if info.get("role") != "slave" or info.get("master_port") != master[1]:
                node.client().replicaof(master[0], master[1])
    replica = next(r for r in ha.regions if r != primary)
    return primary, replica


@pytest.fixture
def redis_replica_synced(ha):
    """Wait until the Redis replica's link is up (Sentinel refuses to promote a replica that is not)."""

    def wait(timeout_s: float = 15.0) -> None:
        import time

        deadline = time.monotonic() + timeout_s
        master = sentinel.redis_master(ha)
        while time.monotonic() < deadline:
            ok = True
            for node in ha.redis:
                if node.port == master[1]:
                    continue
                try:
                    info = node.client().info("replication")
                except redis.RedisError:
                    ok = False
                    continue
                ok = ok and info.get("master_link_status") == "up"
            if ok:
                return
            time.sleep(0.1)
        raise AssertionError("Redis replica never synced")

    return wait
