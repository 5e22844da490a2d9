"""Create upcoming daily telemetry partitions and drop expired ones."""

from django.core.management.base import BaseCommand

from telemetry.services import partitions_drop_expired, partitions_ensure


class Command(BaseCommand):
    help = "Create the next days' telemetry partitions; drop those past TELEMETRY_RETENTION_DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--ahead-days", type=int, default=None)
        parser.add_argument("--retention-days", type=int, default=None)

    def handle(self, *args, **options):
        created = partitions_ensure(ahead_days=options["ahead_days"])
        dropped = partitions_drop_expired(retention_days=options["retention_days"])
        self.stdout.write(f"created {len(created)} partitions {created}; dropped {len(dropped)} {dropped}")
