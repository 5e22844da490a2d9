"""Start the failover topology (PostgreSQL primary + replica, Redis + 3 Sentinels)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.topology import topology_create, topology_up
from failover.nodes import Topology, TopologyError


class Command(BaseCommand):
    help = "Start the HA topology on loopback ports of its own and print the environment that points the app at it."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=settings.HA_DATA_DIR)
        parser.add_argument("--base-port", type=int, default=int(os.environ.get("HA_BASE_PORT", "15432")), help="0: free ports")
        parser.add_argument("--database", default=settings.DATABASES["default"]["NAME"])
        parser.add_argument(
            "--synchronous-commit",
            default=settings.HA_SYNCHRONOUS_COMMIT,
            choices=["remote_apply", "on", "remote_write", "local", "off"],
        )
        parser.add_argument("--no-migrate", action="store_true", help="do not run migrate against the new primary")
        parser.add_argument(
            "--copy-users",
            action="store_true",
            help="copy the users and API tokens of the current database into the HA one (it is a separate database)",
        )

    def handle(self, *args, **options):
        root = Path(options["data_dir"])
        try:
            if (root / "topology.json").exists():
                topology = Topology.load(root)
                self.stdout.write(f"reusing the topology in {root}")
            else:
                topology = topology_create(
                    root,
                    database=options["database"],
                    synchronous_commit=options["synchronous_commit"],
                    base_port=options["base_port"] or None,
                )
            topology_up(topology)
        except TopologyError as exc:
            raise CommandError(str(exc)) from exc
        env = topology.env()
        (root / "ha.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        if not options["no_migrate"]:
            result = _manage(["migrate", "--noinput", "-v", "0"], env=env)
            if result.returncode != 0:
                self.stderr.write(f"migrate against the HA primary failed:\n{result.stderr[-2000:]}")
            elif options["copy_users"]:
                self.stdout.write(_copy_users(root, env=env))
        self.stdout.write(self.style.SUCCESS(f"HA topology up in {root}"))
        for region in topology.regions:
            pg, rd = topology.pg_node(region), topology.redis_node(region)
            self.stdout.write(f"  {region}: PostgreSQL 127.0.0.1:{pg.port}  Redis 127.0.0.1:{rd.port}")
        self.stdout.write("  Sentinels: " + ", ".join(str(s.port) for s in topology.sentinels))
        self.stdout.write(f"Point the application at it:  set -a; . {root / 'ha.env'}; set +a")
        self.stdout.write("The HA database is a separate one: users come along with --copy-users (make run-ha does it),")
        self.stdout.write("  or create them there with the environment loaded: manage.py create_sre_user NAME")


# API tokens come along with their users, whichever token app is installed.
TOKEN_MODELS = (("rest_framework.authtoken", "authtoken.token"), ("knox", "knox.authtoken"))


def _manage(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Our own manage.py, with the HA environment when ``env`` is given."""
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def _copy_users(root: Path, *, env: dict[str, str]) -> str:
    """Users (with their password hashes), groups and API tokens: dumped here, loaded there (same primary keys)."""
    dump = root / "users.json"
    dump.unlink(missing_ok=True)
    dump.touch(mode=0o600)  # password hashes and tokens: readable by us only, even for a moment
    labels = ["auth.group", "auth.user", *(label for app, label in TOKEN_MODELS if apps.is_installed(app))]
    try:
        result = _manage(["dumpdata", *labels, "--natural-foreign", "-o", str(dump)])
        if result.returncode != 0:
            return f"users not copied (dumpdata failed): {result.stderr.strip()[-300:]}"
        result = _manage(["loaddata", str(dump), "-v", "0"], env=env)
        if result.returncode != 0:
            return f"users not copied (loaddata failed): {result.stderr.strip()[-300:]}"
        count = sum(1 for item in json.loads(dump.read_text()) if item["model"] == "auth.user")
        return f"copied {count} user(s) and their API tokens into the HA database"
    finally:
        dump.unlink(missing_ok=True)
