"""Benchmark GET /api/devices through the real ASGI server; print one JSON line."""

import json

from django.core.management.base import BaseCommand

from telemetry.bench_api import api_benchmark


class Command(BaseCommand):
    help = "Load GET /api/devices with concurrent clients through uvicorn and print rate, latency and cache hit rate."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=32)
        parser.add_argument("--seconds", type=int, default=15)
        parser.add_argument("--devices", type=int, default=20_000)
        parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        figures = api_benchmark(
            clients=options["clients"], seconds=options["seconds"], devices=options["devices"], workers=options["workers"]
        )
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))
