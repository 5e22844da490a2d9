"""Stop the failover topology started by ``ha_up``."""

import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.topology import topology_down
from failover.nodes import Topology, TopologyError


class Command(BaseCommand):
    help = "Stop every node of the HA topology (data kept unless --purge)."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=settings.HA_DATA_DIR)
        parser.add_argument("--purge", action="store_true", help="also delete the data folder")

    def handle(self, *args, **options):
        root = Path(options["data_dir"])
        try:
            topology_down(Topology.load(root))
        except TopologyError as exc:
            raise CommandError(str(exc)) from exc
        if options["purge"]:
            shutil.rmtree(root)
        self.stdout.write(self.style.SUCCESS(f"HA topology down ({root}{', purged' if options['purge'] else ''})"))
