"""The router: writes to the primary, reads to the replica, read-your-writes, follows promotions."""

import uuid

import pytest
from django.core.signals import request_started
from django.db import connections
from django.db import router as db_router
from django.http import HttpResponse
from django.test import RequestFactory

from failover import probes
from failover.models import DrillWrite
from failover.pg import pg_stop
from tests.support.waiting import wait_until
from tier0site.routers import PrimaryReplicaRouter, ReadYourWritesMiddleware, primary_is_pinned, primary_pin_reset

from .conftest import drop_alias, register_alias

pytestmark = [pytest.mark.ha]


@pytest.fixture
def ha_routing(ha, healthy, django_db_blocker):
    """The app's ORM routed onto the HA cluster the way the HA settings block does it."""
    # The paused replica in these tests must not hold up commits: local commit for this alias.
    register_alias(ha, "ha_primary", target_session_attrs="read-write", options="-c synchronous_commit=local")
    register_alias(ha, "ha_replica", target_session_attrs="prefer-standby")
    db_router.routers = [PrimaryReplicaRouter("ha_primary", "ha_replica")]
    primary_pin_reset()
    try:
        with django_db_blocker.unblock():
            yield healthy
    finally:
        del db_router.__dict__["routers"]
        primary_pin_reset()
        drop_alias("ha_primary")
        drop_alias("ha_replica")


def _server_port(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        return cursor.fetchone()[0]


def test_reads_go_to_the_replica_and_a_writer_reads_its_own_writes(ha, ha_routing):
    primary, replica = ha_routing
    run = uuid.uuid4().hex
    with ha.pg_node(replica).connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:

        def write_then_read(request):
            DrillWrite.objects.create(run_id=run, seq=1)
            return HttpResponse(str(DrillWrite.objects.filter(run_id=run).count()))

        def read_only(request):
            return HttpResponse(str(DrillWrite.objects.filter(run_id=run).count()))

        factory = RequestFactory()
        # The request that wrote sees its row although the replica has not replayed it.
        assert ReadYourWritesMiddleware(write_then_read)(factory.get("/")).content == b"1"
        assert not primary_is_pinned()  # the pin ended with the request
        # The next request reads from the (paused, so stale) replica.
        assert ReadYourWritesMiddleware(read_only)(factory.get("/")).content == b"0"
        assert _server_port("ha_replica") == ha.pg_node(replica).port
        assert _server_port("ha_primary") == ha.pg_node(primary).port
    finally:
        with ha.pg_node(replica).connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
    # Once replayed, the replica serves the row too.
    wait_until(lambda: DrillWrite.objects.using("ha_replica").filter(run_id=run).count() == 1, 5, 0.05)


def test_writes_follow_a_promotion_made_by_someone_else(ha, ha_routing):
    primary, replica = ha_routing
    DrillWrite.objects.create(run_id="before", seq=0)
    # A person promotes the replica by hand: no orchestrator, no settings change.
    pg_stop(ha.pg_node(primary))
    with ha.pg_node(replica).connect() as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
        conn.execute("SELECT pg_promote(true, 30)")
        conn.execute("SELECT pg_reload_conf()")
    request_started.send(sender=None)  # a new request: Django checks its connections
    primary_pin_reset()
    DrillWrite.objects.create(run_id="after", seq=1)
    assert _server_port("ha_primary") == ha.pg_node(replica).port
    # With no standby left, reads fall back to the only server there is.
    assert DrillWrite.objects.filter(run_id__in=["before", "after"]).count() >= 2
    assert probes.node_state(ha.pg_node(replica)).is_primary
