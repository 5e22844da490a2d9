"""The topology starts and stops on its own ports, and the replica really replicates."""

import shutil
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from devtools.management.commands.ha_up import TOKEN_MODELS, _copy_users, _manage
from failover import probes, sentinel
from failover.nodes import Topology
from tests.factories import UserFactory

pytestmark = [pytest.mark.ha]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # also when it exits between the two calls
        return False


def test_ha_up_and_down_commands_start_and_stop_every_node():
    root = Path(tempfile.mkdtemp(prefix="tier0-ha-updown-"))
    try:
        call_command("ha_up", "--data-dir", str(root), "--base-port", "0", "--no-migrate", "--database", "updown")
        topology = Topology.load(root)
        ports = [n.port for n in topology.pg] + [n.port for n in topology.redis] + [s.port for s in topology.sentinels]
        assert 5432 not in ports and 6379 not in ports
        states = {s.region: s for s in probes.topology_state(topology)}
        assert states["region1"].is_primary and states["region2"].is_replica
        assert sentinel.redis_master_region(topology) == "region1"
        assert (root / "ha.env").read_text().count("HA_DATABASE_HOSTS=") == 1
        pids = [n.postmaster_pid() for n in topology.pg] + [
            int(n.pid_file.read_text()) for n in [*topology.redis, *topology.sentinels]
        ]
        assert all(psutil.pid_exists(pid) for pid in pids)
    finally:
        call_command("ha_down", "--data-dir", str(root), "--purge")
    assert not root.exists()
    assert not any(_alive(pid) for pid in pids)
    shutil.rmtree(root, ignore_errors=True)


def test_replication_is_synchronous_and_applies_on_the_replica(ha, healthy):
    primary, replica = (ha.pg_node(r) for r in healthy)
    with primary.connect(ha.database) as conn:
        row = conn.execute(
            "SELECT sync_state, state FROM pg_stat_replication WHERE application_name = %s", [replica.region]
        ).fetchone()
        assert row == ("quorum", "streaming")
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "remote_apply"
        conn.execute("CREATE TABLE IF NOT EXISTS repl_check (n int)")
        conn.execute("INSERT INTO repl_check VALUES (42)")
    # remote_apply: once the commit returned, the replica has applied it.
    with replica.connect(ha.database) as conn:
        assert conn.execute("SELECT count(*) FROM repl_check WHERE n = 42").fetchone()[0] >= 1
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
    with primary.connect(ha.database) as conn:
        conn.execute("DROP TABLE repl_check")


@pytest.mark.django_db(transaction=True)
def test_copy_users_brings_users_and_tokens_into_the_ha_database(ha, monkeypatch):
    """The HA topology has a database of its own: ``ha_up --copy-users`` (make run-ha) carries the accounts over."""
    name = f"carry{uuid.uuid4().hex[:8]}"
    user = UserFactory(username=name)
    user.set_password("Carry-over-1")
    user.save()
    token_apps = [label for app, label in TOKEN_MODELS if apps.is_installed(app)]
    token_model = apps.get_model(token_apps[0])
    if token_apps[0] == "authtoken.token":
        token_model.objects.create(user=user)
    else:  # knox: create(user) hashes a new token
        token_model.objects.create(user)
    db = connection.settings_dict
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tier0site.settings.test")
    monkeypatch.setenv("DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    env = ha.env()
    for label in ("auth", *(t.split(".")[0] for t in token_apps)):
        migrated = _manage(["migrate", label, "--noinput", "-v", "0"], env=env)
        assert migrated.returncode == 0, migrated.stderr[-2000:]

    assert _copy_users(Path(ha.root), env=env) == "copied 1 user(s) and their API tokens into the HA database"

    check = _manage(
        [
            "shell",
            "-c",
            "from django.apps import apps; from django.contrib.auth import authenticate;"
            f"u = authenticate(username={name!r}, password='Carry-over-1');"
            f"print(u is not None, apps.get_model({token_apps[0]!r}).objects.filter(user__username={name!r}).count())",
        ],
        env=env,
    )
    assert check.stdout.strip().splitlines()[-1] == "True 1", check.stdout + check.stderr[-2000:]
    assert not (Path(ha.root) / "users.json").exists()  # the dump with password hashes is gone
