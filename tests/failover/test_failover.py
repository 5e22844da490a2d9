"""Planned failover and failback in a loop, unplanned failover, refusals, live progress."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management import call_command

from devtools.topology import pg_kill
from failover import probes, sentinel, services
from failover.models import ActiveRegion, FailoverEvent
from failover.pg import pg_start, pg_stop, pg_wait_streaming
from failover.watcher import PrimaryWatcher

pytestmark = [pytest.mark.ha, pytest.mark.slow]

PLANNED_STEPS = [
    "health_check",
    "fence_old_primary",
    "wait_replay",
    "promote",
    "stop_old_primary",
    "redis_failover",
    "switch_region",
    "verify_write",
]


def _roles(topology):
    return {s.region: s.as_dict()["role"] for s in probes.topology_state(topology)}


def test_planned_failover_and_failback_twice_each_way(ha, healthy, staff_client, anon_client, redis_replica_synced):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("failover", channel)
    primary, replica = healthy
    for round_no in range(4):
        if round_no:
            primary, replica = replica, primary
        with ha.pg_node(primary).connect(ha.database) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS loop_check (round int)")
            conn.execute("INSERT INTO loop_check VALUES (%s)", [round_no])
        redis_replica_synced()
        if round_no == 0:
            response = staff_client.post(f"/api/failover/{replica}")
            assert response.status_code == 200, response.json()
            event = FailoverEvent.objects.get(pk=response.json()["id"])
            assert response.json()["requested_by"]
        elif round_no == 1:
            out = io.StringIO()
            call_command("failover", replica, stdout=out)
            assert f"{primary} -> {replica} in" in out.getvalue()
            event = FailoverEvent.objects.filter(kind="planned", status="completed").first()
        else:
            event = services.failover_run(target_region=replica, topology=ha)
        assert event.status == "completed" and event.kind == "planned"
        assert [s["name"] for s in event.steps] == PLANNED_STEPS
        assert all(s["ok"] and s["seconds"] is not None for s in event.steps)
        assert (event.source_region, event.target_region) == (primary, replica)
        assert sentinel.redis_master_region(ha) == replica
        assert ActiveRegion.objects.get().region == replica
        assert anon_client.get("/api/version").json()["version"] == f"v1.0.0057_{replica}"
        # Nothing written before the switch is missing on the new primary.
        with ha.pg_node(replica).connect(ha.database) as conn:
            assert conn.execute("SELECT count(*) FROM loop_check WHERE round = %s", [round_no]).fetchone()[0] == 1
        # Failback preparation: the old primary becomes the new one's synchronous replica
        # (the API does it right after the failover; the service is called directly here).
        if round_no == 0:
            rebuilt = response.json()["rebuild"]
            assert rebuilt["status"] == "completed", rebuilt
        else:
            assert _roles(ha) == {replica: "primary", primary: "down"}
            rebuilt = services.node_rebuild(region=primary, topology=ha).__dict__
        assert rebuilt["status"] == "completed"
        assert rebuilt["steps"][0]["detail"] in ("pg_rewind", "pg_basebackup")
        assert _roles(ha) == {replica: "primary", primary: "replica"}
        with ha.pg_node(replica).connect() as conn:
            assert (
                conn.execute("SELECT sync_state FROM pg_stat_replication WHERE application_name = %s", [primary]).fetchone()[0]
                == "quorum"
            )
    # Live progress reached the dashboard's group, ending with the completed state.
    messages = []
    while True:
        try:
            messages.append(async_to_sync(_receive)(layer, channel))
        except TimeoutError:
            break
    assert messages and all(m["type"] == "failover.progress" for m in messages)
    assert sum(1 for m in messages if m["status"] == "completed" and m["kind"] == "planned") == 4
    with ha.pg_node(healthy[0]).connect(ha.database) as conn:
        conn.execute("DROP TABLE loop_check")


async def _receive(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), 0.2)


def test_unplanned_failover_by_the_watcher(ha, healthy, redis_replica_synced):
    primary, replica = healthy
    redis_replica_synced()
    watcher = PrimaryWatcher(topology=ha, interval_s=0.2, failures=3, max_promotions=1, publish=False)
    watcher.step()
    assert watcher.primary == primary and watcher.failed == 0
    killed = time.monotonic()
    pg_kill(ha.pg_node(primary))
    events = watcher.run()
    elapsed = time.monotonic() - killed
    assert len(events) == 1
    event = events[0]
    assert (event.kind, event.status, event.source_region, event.target_region) == ("unplanned", "completed", primary, replica)
    assert "stop_old_primary" not in [s["name"] for s in event.steps]
    # A bound against a hang, not a speed target: the drill (failover_drill --unplanned) measures the time.
    assert elapsed < 60, f"detection + promotion took {elapsed:.2f}s"
    assert _roles(ha)[replica] == "primary"
    # Fenced: restarted by anyone, the dead node would come back read-only.
    assert (ha.pg_node(primary).data_dir / "standby.signal").exists()
    assert not ha.pg_node(primary).is_running()
    assert services.node_rebuild(region=primary, topology=ha).status == "completed"
    assert _roles(ha) == {replica: "primary", primary: "replica"}


def _snapshot(ha):
    return _roles(ha), sentinel.redis_master_region(ha), ActiveRegion.objects.first()


def test_failover_refused_when_the_replica_is_down(ha, healthy):
    primary, replica = healthy
    pg_stop(ha.pg_node(replica))
    try:
        before_roles, before_redis, before_region = _roles(ha), sentinel.redis_master_region(ha), ActiveRegion.objects.first()
        with pytest.raises(services.FailoverRefused, match=f"replica {replica} is unhealthy: unreachable") as refused:
            services.failover_run(target_region=replica, topology=ha)
        assert refused.value.event.status == "refused"
        assert (_roles(ha), sentinel.redis_master_region(ha), ActiveRegion.objects.first()) == (
            before_roles,
            before_redis,
            before_region,
        )
        with ha.pg_node(primary).connect(ha.database) as conn:  # still takes writes
            conn.execute("SET synchronous_commit = local")
            conn.execute("CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1)")
    finally:
        pg_start(ha.pg_node(replica))
        pg_wait_streaming(ha.pg_node(primary), ha.pg_node(replica))


def test_failover_refused_when_the_replica_is_too_far_behind(ha, healthy):
    primary, replica = healthy
    with ha.pg_node(replica).connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        with ha.pg_node(primary).connect(ha.database) as conn:
            conn.execute("SET synchronous_commit = local")  # remote_apply would wait for the paused replica
            conn.execute("CREATE TABLE lag_check AS SELECT g AS n FROM generate_series(1, 20000) g")
        before = _roles(ha), sentinel.redis_master_region(ha), ActiveRegion.objects.first()
        with pytest.raises(services.FailoverRefused, match=f"replica {replica} is too far behind: \\d+ bytes") as refused:
            services.failover_run(target_region=replica, topology=ha, max_lag_bytes=64 * 1024)
        assert refused.value.event.details["lag_bytes"] > 64 * 1024
        assert (_roles(ha), sentinel.redis_master_region(ha), ActiveRegion.objects.first()) == before
        # Caught up but still paused: refused as unhealthy.
        with pytest.raises(services.FailoverRefused, match="WAL replay is paused"):
            services.failover_run(target_region=replica, topology=ha, max_lag_bytes=1 << 40)
        assert _roles(ha) == before[0]
    finally:
        with ha.pg_node(replica).connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        with ha.pg_node(primary).connect(ha.database) as conn:
            conn.execute("DROP TABLE IF EXISTS lag_check")


def test_failover_to_the_current_primary_is_refused(ha, healthy):
    primary, _ = healthy
    with pytest.raises(services.FailoverRefused, match="already a primary"):
        services.failover_run(target_region=primary, topology=ha)
    with pytest.raises(services.FailoverRefused, match="unknown region"):
        services.failover_run(target_region="region9", topology=ha)


def test_watcher_command_stops_cleanly_on_sigterm(ha, healthy):
    env = {**os.environ, **ha.env(), "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{ha.database}", "LOG_LEVEL": "INFO"}
    env["DJANGO_SETTINGS_MODULE"] = "tier0site.settings.base"  # the test settings mute INFO logs
    process = subprocess.Popen(  # noqa: S603 - our own manage.py
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "run_failover_watcher",
            "--interval",
            "0.2",
            "--metrics-port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    watching = threading.Event()

    def read_log():
        for line in process.stderr:
            lines.append(line)
            if "watching primary" in line:
                watching.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        # SIGTERM once it watches (its handler is installed by then), not after a guessed delay.
        assert watching.wait(60), "".join(lines)[-2000:]
        process.send_signal(signal.SIGTERM)
        out = process.stdout.read()
        process.wait(timeout=20)
        reader.join(10)
        err = "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "stopped after 0 promotion(s)" in out
    assert f'"region": "{healthy[0]}"' in err  # it found and watched the primary
    assert _roles(ha)[healthy[0]] == "primary"
