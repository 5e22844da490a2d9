"""/api/failover/status without the topology, with dead or silent nodes: fast, plain, no paths."""

import json
import socket
import tempfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from failover import probes
from failover.models import FailoverEvent
from failover.nodes import PgNode, RedisNode, SentinelNode, Topology


@pytest.fixture
def not_configured(settings, tmp_path):
    settings.HA_DATABASE_HOSTS = []
    settings.REDIS_SENTINELS = []
    settings.HA_DATA_DIR = str(tmp_path / "ha")
    return settings


@pytest.fixture
def silent_port():
    """A port that completes TCP handshakes and then never says a word (a hung server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on return: connections are refused


@pytest.mark.django_db
def test_without_topology_it_says_not_configured_with_a_hint(not_configured, api_client):
    body = api_client.get("/api/failover/status").json()
    assert body["configured"] is False
    assert "make run-ha" in body["hint"]
    assert body["nodes"] == [] and body["current_region"] == "region1"
    assert not_configured.HA_DATA_DIR not in json.dumps(body)


@pytest.mark.django_db
def test_a_started_but_unused_topology_is_named_in_the_hint(not_configured, api_client):
    root = Path(not_configured.HA_DATA_DIR)
    root.mkdir()
    Topology(root=str(root), database="x", synchronous_commit="on").save()
    body = api_client.get("/api/failover/status").json()
    assert body["configured"] is False and "does not use it" in body["hint"]


@pytest.mark.django_db
def test_trigger_without_topology_is_a_clear_503(not_configured, staff_client):
    response = staff_client.post("/api/failover/region2")
    assert response.status_code == 503
    assert response.json()["configured"] is False and "make run-ha" in response.json()["hint"]
    assert not FailoverEvent.objects.exists()


@pytest.mark.django_db
def test_dead_and_silent_nodes_are_reported_by_the_deadline_without_raw_errors(settings, api_client, silent_port, closed_port):
    root = tempfile.mkdtemp(prefix="tier0-status-")
    topology = Topology(
        root=root,
        database="x",
        synchronous_commit="on",
        pg=[PgNode(region="region1", port=closed_port, root=root), PgNode(region="region2", port=silent_port, root=root)],
        redis=[RedisNode(region="region1", port=closed_port, root=root)],
        sentinels=[SentinelNode(port=silent_port, root=root), SentinelNode(port=closed_port, root=root)],
    )
    topology.save()
    settings.HA_DATA_DIR = root
    settings.REDIS_SENTINELS = [f"127.0.0.1:{silent_port}"]
    settings.FAILOVER_STATUS_DEADLINE_S = 0.3
    body = api_client.get("/api/failover/status").json()
    nodes = {n["region"]: n for n in body["nodes"]}
    assert body["configured"] is True and body["regions"] == ["region1", "region2"]
    assert nodes["region1"]["error"] == "connection refused"
    assert nodes["region1"]["role"] == "down"
    # The silent node has not answered when the deadline passes: said so, not waited for.
    assert nodes["region2"]["role"] == "unknown" and nodes["region2"]["error"] == "no answer within 0.3 s"
    assert body["redis_master"] is None
    text = json.dumps(body)
    assert root not in text and "Traceback" not in text and "failed:" not in text


def test_failure_reasons_are_short_and_hide_hosts():
    raw = 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server running'
    assert probes.failure_reason(Exception(raw)) == "connection refused"
    assert probes.failure_reason(Exception("something odd at /var/run/x")) == "unreachable"


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["failover", "failover_rebuild"])
def test_commands_without_topology_say_how_to_start_it(not_configured, command):
    with pytest.raises(CommandError, match="make run-ha"):
        call_command(command, "region2")
    assert not FailoverEvent.objects.exists()
