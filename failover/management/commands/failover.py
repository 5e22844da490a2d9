"""Fail over to a region: promote its replica, move Redis, switch the deployment region."""

import json

from django.core.management.base import BaseCommand, CommandError

from failover import services


class Command(BaseCommand):
    help = "Fail over to REGION (planned switchover; --unplanned when the primary is dead). --rebuild REGION for failback."

    def add_arguments(self, parser):
        parser.add_argument("region")
        parser.add_argument("--unplanned", action="store_true", help="the primary is dead: fence it and promote")
        parser.add_argument("--max-lag-bytes", type=int, default=None)
        parser.add_argument("--rebuild-old", action="store_true", help="afterwards rebuild the old primary as a replica")

    def handle(self, *args, **options):
        try:
            event = services.failover_run(
                target_region=options["region"], unplanned=options["unplanned"], max_lag_bytes=options["max_lag_bytes"]
            )
        except services.FailoverError as exc:
            raise CommandError(str(exc)) from exc
        for step in event.steps:
            self.stdout.write(f"  {step['name']:<18} {step['seconds']:>8.3f} s  {step['detail']}")
        self.stdout.write(
            self.style.SUCCESS(f"{event.source_region} -> {event.target_region} in {event.total_s:.3f} s (event {event.id})")
        )
        if options["rebuild_old"]:
            rebuilt = services.node_rebuild(region=event.source_region)
            self.stdout.write(json.dumps({"rebuilt": event.source_region, "steps": rebuilt.steps}))
