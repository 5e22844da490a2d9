"""Benchmark the telemetry path end to end and print one JSON line."""

import json

from django.core.management.base import BaseCommand

from devtools.ingest_bench import ingest_benchmark


class Command(BaseCommand):
    help = "Publish N messages through the project's Mosquitto to the real consumer and PostgreSQL; print figures as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=100_000)
        parser.add_argument("--devices", type=int, default=100_000)
        parser.add_argument("--json", action="store_true", help="print only the JSON line (progress goes to stderr)")

    def handle(self, *args, **options):
        figures = ingest_benchmark(
            messages=options["messages"], devices=options["devices"], log=lambda line: self.stderr.write(line)
        )
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))
