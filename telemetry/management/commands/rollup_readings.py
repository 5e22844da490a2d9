"""Backfill the per-minute and hourly rollups (after an outage, an import or an upgrade)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from telemetry.rollups import rollups_refresh


class Command(BaseCommand):
    help = "Roll readings of the last N hours up into per-minute and hourly rollups (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args, **options):
        end = timezone.now()
        start = end - timedelta(hours=options["hours"])
        minutes = hours = 0
        # A day at a time keeps each transaction and its memory bounded.
        while start < end:
            step_end = min(start + timedelta(days=1), end)
            m, h = rollups_refresh(start=start, end=step_end)
            minutes, hours, start = minutes + m, hours + h, step_end
        self.stdout.write(f"rolled up: {minutes} minute rows, {hours} hour rows")
