"""Measure a failover under write load: one JSON line of figures."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from devtools import drill
from failover import services
from failover.models import DrillWrite
from failover.nodes import TopologyError
from failover.selectors import topology_get


class Command(BaseCommand):
    help = (
        "Steady numbered inserts through the app's DB routing, a failover (planned, or --unplanned: SIGKILL of the primary"
        " and the watcher's promotion), then one JSON line: mode, write_unavailable_s, acknowledged/lost/duplicate writes, steps."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print only the JSON line")
        parser.add_argument("--unplanned", action="store_true")
        parser.add_argument("--rate", type=float, default=200.0, help="inserts per second")
        parser.add_argument("--before", type=float, default=2.0, help="seconds of load before the failover")
        parser.add_argument("--after", type=float, default=2.0, help="seconds of load after it")
        parser.add_argument("--no-rebuild", action="store_true", help="leave the old primary down")
        parser.add_argument(
            "--watch-interval", type=float, default=settings.FAILOVER_WATCH_INTERVAL_S, help="unplanned: seconds between probes"
        )
        parser.add_argument(
            "--watch-failures", type=int, default=settings.FAILOVER_WATCH_FAILURES, help="unplanned: failed probes that mean dead"
        )

    def handle(self, *args, **options):
        if not settings.HA_DATABASE_HOSTS:
            raise CommandError("the drill runs against the HA topology: start it with manage.py ha_up and load its ha.env")
        try:
            topology = topology_get()
            DrillWrite.objects.exists()
        except TopologyError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(f"the HA database is not ready (manage.py migrate with the HA environment): {exc}") from exc
        try:
            result = drill.drill_run(
                topology=topology,
                unplanned=options["unplanned"],
                rate_hz=options["rate"],
                before_s=options["before"],
                after_s=options["after"],
                rebuild=not options["no_rebuild"],
                watch_interval_s=options["watch_interval"],
                watch_failures=options["watch_failures"],
            )
        except services.FailoverError as exc:
            raise CommandError(str(exc)) from exc
        if not options["json"]:
            self.stderr.write(f"{result['mode']} failover {result['source_region']} -> {result['target_region']}")
        self.stdout.write(json.dumps(result))
