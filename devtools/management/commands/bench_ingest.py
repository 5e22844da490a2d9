"""Benchmark the telemetry path end to end and print one JSON line."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from devtools.alarms_bench import ingest_pairs
from devtools.cluster_bench import cluster_benchmark, mosquitto_figures
from devtools.ingest_bench import ingest_benchmark, rate_benchmark


class Command(BaseCommand):
    help = "Publish N messages through the project's Mosquitto (or a 3-node RabbitMQ cluster) to the real consumer and PostgreSQL; print figures as JSON."

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
        parser.add_argument(
            "--transport",
            choices=("mosquitto", "rabbitmq"),
            default="mosquitto",
            help="rabbitmq: start a 3-node cluster with the MQTT plugin and a quorum queue; the Mosquitto figure of the same run too",
        )
        parser.add_argument("--consumers", type=int, default=1, help="rabbitmq: consumer processes competing for the queue")
        parser.add_argument(
            "--publishers", type=int, default=3, help="rabbitmq: publisher processes, one per node in turn (300 in flight each)"
        )
        parser.add_argument("--no-mosquitto", action="store_true", help="rabbitmq: skip the Mosquitto run of the same invocation")
        parser.add_argument("--json", action="store_true", help="print only the JSON line (progress goes to stderr)")

    def handle(self, *args, **options):
        log = self.stderr.write
        if options["transport"] == "rabbitmq":
            messages, devices = options["messages"] or 50_000, options["devices"]
            mosquitto = None if options["no_mosquitto"] else mosquitto_figures(messages=messages, devices=devices, log=log)
            figures = cluster_benchmark(
                messages=messages, consumers=options["consumers"], devices=devices, publishers=options["publishers"], log=log
            )
            figures["mosquitto"] = mosquitto
        elif options["alarm_pairs"]:
            figures = ingest_pairs(
                pairs=options["alarm_pairs"],
                messages=options["messages"] or 20_000,
                devices=options["devices"],
                log=log,
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
                log=log,
            )
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))
