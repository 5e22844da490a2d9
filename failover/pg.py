"""PostgreSQL commands of a failover: fence, replay, promote, verify, rebuild a replica.

Every function takes a ``failover.nodes.PgNode`` and talks to that one server
(a fresh connection, ``application_name=tier0-failover``, never the app's pool).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time

import psutil
import psycopg

from failover.errors import FailoverFailed
from failover.nodes import PG_BIN, PgNode, Topology, TopologyError, _chown_postgres, _run

logger = logging.getLogger(__name__)


def lsn_bytes(lsn: str | None) -> int:
    """``'0/3000148'`` as a byte position."""
    if not lsn:
        return 0
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


# --- process control ------------------------------------------------------------------
def pg_write_role(node: PgNode, *, topology: Topology, primary_of: PgNode | None, sync: bool = True) -> None:
    """Rewrite the node's ``postgresql.auto.conf`` for its role (node stopped).

    A standby gets ``standby.signal``, its upstream and its replication slot; every
    node gets the synchronous settings so a promoted standby keeps them. A
    primary without a standby yet starts with ``sync=False``: otherwise its first
    commit would wait for a standby that does not exist.
    """
    lines = [
        "# Managed by failover/pg.py; ALTER SYSTEM may add to it at run time.",
        f"synchronous_commit = '{topology.synchronous_commit}'",
        f"synchronous_standby_names = '{topology.sync_standby_names() if sync else ''}'",
        "default_transaction_read_only = off",
    ]
    signal_file = node.data_dir / "standby.signal"
    if primary_of is not None:
        lines += [
            f"primary_conninfo = 'host={primary_of.host} port={primary_of.port} user=postgres application_name={node.region}'",
            f"primary_slot_name = '{node.slot}'",
            "recovery_target_timeline = 'latest'",
        ]
        signal_file.touch()
        _chown_postgres(signal_file)
    else:
        signal_file.unlink(missing_ok=True)
    auto = node.data_dir / "postgresql.auto.conf"
    auto.write_text("\n".join(lines) + "\n")
    _chown_postgres(auto)


def pg_start(node: PgNode, *, timeout_s: int = 60) -> None:
    if node.is_running():
        return
    node.log_file.parent.mkdir(parents=True, exist_ok=True)
    options = f"-p {node.port} -k {node.sock_dir} -c cluster_name={node.cluster_name}"
    _run(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(node.data_dir),
            "-l",
            str(node.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(timeout_s),
            "start",
        ],
        as_postgres=True,
        timeout=timeout_s + 10,
    )


def pg_stop(node: PgNode, *, mode: str = "fast", missing_ok: bool = False, timeout_s: int = 30) -> None:
    if not node.is_running():
        if not missing_ok and not node.data_dir.exists():
            raise TopologyError(f"{node.region}: no data folder")
        return
    _run(
        [str(PG_BIN / "pg_ctl"), "-D", str(node.data_dir), "-m", mode, "-w", "-t", str(timeout_s), "stop"],
        as_postgres=True,
        check=False,
    )


def pg_fence_dead(node: PgNode) -> None:
    """Make sure a node that stopped answering can never come back as a primary.

    Its surviving processes are killed (a postmaster killed with SIGKILL leaves
    backends behind for a moment) and ``standby.signal`` is dropped into its data
    folder: restarted by anyone, it comes up read-only.
    """
    for proc in node.processes():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    if node.data_dir.exists():
        signal_file = node.data_dir / "standby.signal"
        signal_file.touch()
        _chown_postgres(signal_file)


def pg_make_replica(node: PgNode, *, primary: PgNode, topology: Topology, rewind: bool = False) -> str:
    """(Re)build ``node`` as a streaming replica of ``primary``; returns the method used.

    With ``rewind`` an old primary is first wound back with ``pg_rewind`` (fast,
    keeps its files); when that fails, or without ``rewind``, it gets a fresh
    ``pg_basebackup``. The replica's slot is created on the primary first, so no
    WAL it needs is recycled.
    """
    with primary.connect() as conn:
        row = conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [node.slot]).fetchone()
        if row is None:
            conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", [node.slot])
        if rewind:
            # A just-promoted source records its new timeline in pg_control only at its
            # next checkpoint; pg_rewind reads the timeline from there.
            conn.execute("CHECKPOINT")
    pg_stop(node, mode="fast", missing_ok=True)
    pg_fence_dead(node)  # leftover processes of a killed node would keep files open
    method = ""
    if rewind and (node.data_dir / "PG_VERSION").exists():
        # A killed node has no clean shutdown record; pg_rewind recovers it in single-user
        # mode first, which refuses to run with standby.signal present.
        (node.data_dir / "standby.signal").unlink(missing_ok=True)
        result = _run(
            [str(PG_BIN / "pg_rewind"), "-D", str(node.data_dir), "--source-server", primary.conninfo(), "--no-sync"],
            as_postgres=True,
            check=False,
            timeout=300,
        )
        if result.returncode == 0:
            method = "pg_rewind"
        else:
            logger.warning(
                "pg_rewind failed, taking a base backup", extra={"region": node.region, "stderr": result.stderr[-500:]}
            )
    if not method:
        if node.data_dir.exists():
            shutil.rmtree(node.data_dir)
        node.data_dir.mkdir(parents=True)
        node.data_dir.chmod(0o700)
        _chown_postgres(node.data_dir)
        _run(
            [
                str(PG_BIN / "pg_basebackup"),
                "-D",
                str(node.data_dir),
                "-d",
                primary.conninfo(),
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            as_postgres=True,
            timeout=600,
        )
        method = "pg_basebackup"
    pg_write_role(node, topology=topology, primary_of=primary)
    # Stale leftovers of the old life of this folder must not confuse the new server.
    for stale in ("postmaster.pid", "recovery.signal"):
        (node.data_dir / stale).unlink(missing_ok=True)
    pg_start(node)
    pg_wait_streaming(primary, node)
    return method


def pg_set_sync(node: PgNode, *, topology: Topology, on: bool) -> None:
    """Turn synchronous replication on (when the topology asks for it) or off on a running node.

    Off is for a primary left without any standby (after a failover, before the
    old primary is rebuilt): it keeps taking writes instead of waiting forever.
    """
    names = topology.sync_standby_names() if on else ""
    with node.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
        conn.execute("SELECT pg_reload_conf()")


def pg_wait_streaming(primary: PgNode, replica: PgNode, *, timeout_s: float = 30) -> None:
    """Wait until ``replica`` streams from ``primary`` and has replayed what the primary had then.

    Replay, not just a connection: a replica on a wrong timeline connects, streams
    for a moment and never applies anything, and a synchronous primary waiting
    for it would stop taking writes.
    """
    deadline = time.monotonic() + timeout_s
    goal = None
    while True:
        with contextlib.suppress(psycopg.Error), primary.connect() as conn:
            if goal is None:
                goal = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            row = conn.execute(
                "SELECT replay_lsn >= %s FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'",
                [goal, replica.region],
            ).fetchone()
            if row and row[0]:
                return
        if time.monotonic() > deadline:
            raise TopologyError(f"{replica.region} is not replaying from {primary.region} after {timeout_s}s")
        time.sleep(0.05)


# --- a switchover -----------------------------------------------------------------------
def fence_read_only(node) -> str:
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


def unfence(node) -> None:
    with node.connect() as conn:
        conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        conn.execute("SELECT pg_reload_conf()")


def wait_replay(node, lsn: str | None, *, timeout_s: float) -> str:
    """Wait until ``node`` replayed ``lsn`` (or, without one, all the WAL it received)."""
    deadline = time.monotonic() + timeout_s
    with node.connect() as conn:
        while True:
            replay, receive = conn.execute("SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text").fetchone()
            goal = lsn or receive
            if lsn_bytes(replay) >= lsn_bytes(goal):
                return f"replayed {replay}"
            if time.monotonic() > deadline:
                raise FailoverFailed(f"{node.region} replayed only {replay} of {goal} after {timeout_s}s")
            time.sleep(0.005)


def promote(node) -> None:
    with node.connect() as conn:
        # Until the old primary is rebuilt as its standby, a synchronous commit here
        # would wait forever: the new primary starts asynchronous.
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
        conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        promoted = conn.execute("SELECT pg_promote(true, 30)").fetchone()[0]
        if not promoted:
            raise FailoverFailed(f"{node.region} did not finish promotion in 30 s")
        conn.execute("SELECT pg_reload_conf()")


def write_probe(node) -> None:
    """A write straight on ``node``: proves it takes writes."""
    with node.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS tier0_failover_probe (at timestamptz NOT NULL, region text NOT NULL)")
        conn.execute("INSERT INTO tier0_failover_probe VALUES (now(), %s)", [node.region])
