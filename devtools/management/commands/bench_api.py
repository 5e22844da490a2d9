"""Benchmark GET /api/devices through the web server make run starts; print one JSON line."""

import json

from django.core.management.base import BaseCommand

from devtools.api_bench import api_benchmark


class Command(BaseCommand):
    help = (
        "Load GET /api/devices through the web server make run starts, token-authenticated on every request: "
        "wrk with --clients connections and an open-loop fixed --rate, each beside a trivial authenticated view."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=32)
        parser.add_argument("--seconds", type=int, default=10, help="per measured run (four runs)")
        parser.add_argument("--rates", default="100,500", help="open-loop offered requests/s, comma-separated")
        parser.add_argument("--devices", type=int, default=20_000)
        parser.add_argument("--workers", type=int, default=None, help="web worker processes (default: as make run, one per core)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        figures = api_benchmark(
            clients=options["clients"], seconds=options["seconds"], devices=options["devices"], rates=tuple(float(r) for r in options["rates"].split(",")),
            workers=options["workers"],
        )  # fmt: skip
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))
