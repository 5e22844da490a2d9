"""Start the failover topology (PostgreSQL primary + replica, Redis + 3 Sentinels)."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from failover.topology import Topology, TopologyError


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

    def handle(self, *args, **options):
        root = Path(options["data_dir"])
        try:
            if (root / "topology.json").exists():
                topology = Topology.load(root)
                self.stdout.write(f"reusing the topology in {root}")
            else:
                topology = Topology.create(
                    root,
                    database=options["database"],
                    synchronous_commit=options["synchronous_commit"],
                    base_port=options["base_port"] or None,
                )
            topology.up()
        except TopologyError as exc:
            raise CommandError(str(exc)) from exc
        env = topology.env()
        (root / "ha.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        if not options["no_migrate"]:
            result = subprocess.run(  # noqa: S603 - our own manage.py with the HA environment
                [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "migrate", "--noinput", "-v", "0"],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                self.stderr.write(f"migrate against the HA primary failed:\n{result.stderr[-2000:]}")
        self.stdout.write(self.style.SUCCESS(f"HA topology up in {root}"))
        for region in topology.regions:
            pg, rd = topology.pg_node(region), topology.redis_node(region)
            self.stdout.write(f"  {region}: PostgreSQL 127.0.0.1:{pg.port}  Redis 127.0.0.1:{rd.port}")
        self.stdout.write("  Sentinels: " + ", ".join(str(s.port) for s in topology.sentinels))
        self.stdout.write(f"Point the application at it:  set -a; . {root / 'ha.env'}; set +a")
