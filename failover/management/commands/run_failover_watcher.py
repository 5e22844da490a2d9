"""Watch the primary; after N failed probes promote the replica (unplanned failover)."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from failover.nodes import TopologyError
from failover.selectors import topology_get
from failover.watcher import PrimaryWatcher
from tier0site.workers import ShutdownFlag, serve_metrics


class Command(BaseCommand):
    help = "Probe the PostgreSQL primary and fail over on its own when it is dead (until SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=settings.FAILOVER_WATCH_INTERVAL_S, help="seconds between probes")
        parser.add_argument(
            "--failures", type=int, default=settings.FAILOVER_WATCH_FAILURES, help="failed probes in a row that mean dead"
        )
        parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("FAILOVER_WATCHER_METRICS_PORT", "9104")))

    def handle(self, *args, **options):
        try:
            topology = topology_get()
        except TopologyError as exc:
            raise CommandError(str(exc)) from exc
        serve_metrics(options["metrics_port"])
        watcher = PrimaryWatcher(
            topology=topology, interval_s=options["interval"], failures=options["failures"], shutdown=ShutdownFlag().install()
        )
        events = watcher.run()
        self.stdout.write(f"stopped after {len(events)} promotion(s)")
