"""Benchmark the telemetry path end to end and print one JSON line."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from devtools.alarms_bench import ingest_pairs
from devtools.ingest_bench import ingest_benchmark, rate_benchmark


class Command(BaseCommand):
    help = "Publish N messages through the project's Mosquitto to the real consumer and PostgreSQL; print figures as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=None, help="default 100000; with --rate, 15 s of messages")
        parser.add_argument("--devices", type=int, default=100_000)
        parser.add_argument("--rate", type=float, default=None, help="publish at this steady rate (msg/s): p50/p99 latency")
        parser.add_argument(
            "--consumer-repo", type=Path, default=None, help="run the consumer from this checkout (to compare versions)"
        )
        parser.add_argument(
            "--alarm-pairs",
            type=int,
            default=0,
            help="run with the default alarm rules off then on this many times; medians, on/off ratio (one JSON line)",
        )
        parser.add_argument("--json", action="store_true", help="print only the JSON line (progress goes to stderr)")

    def handle(self, *args, **options):
        if options["alarm_pairs"]:
            figures = ingest_pairs(
                pairs=options["alarm_pairs"],
                messages=options["messages"] or 20_000,
                devices=options["devices"],
                log=lambda line: self.stderr.write(line),
            )
        elif options["rate"]:
            figures = rate_benchmark(
                rate=options["rate"],
                messages=options["messages"] or int(options["rate"] * 15),
                devices=options["devices"],
                consumer_repo=options["consumer_repo"],
            )
        else:
            figures = ingest_benchmark(
                messages=options["messages"] or 100_000,
                devices=options["devices"],
                consumer_repo=options["consumer_repo"],
                log=lambda line: self.stderr.write(line),
            )
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))
