"""Failback preparation: rebuild an old primary as a replica of the current primary."""

from django.core.management.base import BaseCommand, CommandError

from failover import services


class Command(BaseCommand):
    help = "Rebuild REGION's PostgreSQL as a synchronous replica of the current primary (pg_rewind, else pg_basebackup)."

    def add_arguments(self, parser):
        parser.add_argument("region")

    def handle(self, *args, **options):
        try:
            event = services.node_rebuild(region=options["region"])
        except services.FailoverError as exc:
            raise CommandError(str(exc)) from exc
        for step in event.steps:
            self.stdout.write(f"  {step['name']:<18} {step['seconds']:>8.3f} s  {step['detail']}")
        self.stdout.write(
            self.style.SUCCESS(f"{event.target_region} replicates from {event.source_region} ({event.total_s:.3f} s)")
        )
