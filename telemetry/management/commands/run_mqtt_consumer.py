"""Consume telemetry from MQTT into PostgreSQL until SIGTERM."""

import os

from django.core.management.base import BaseCommand

from telemetry.consumer import mqtt_ingest_worker
from tier0site.workers import ShutdownFlag, serve_metrics


class Command(BaseCommand):
    help = "Store MQTT telemetry in PostgreSQL in batches, acknowledging after each commit."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", default=None, help="persistent MQTT session name (default: tier0-consumer-<host>)")
        parser.add_argument(
            "--shared", action="store_true", help="join the shared subscription so several consumers split the load"
        )
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--flush-interval",
            type=float,
            default=None,
            help="seconds a partial batch may wait for more messages (default 0: stored as soon as the previous commit is done)",
        )
        parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("MQTT_CONSUMER_METRICS_PORT", "9101")))

    def handle(self, *args, **options):
        serve_metrics(options["metrics_port"])
        worker = mqtt_ingest_worker(
            client_id=options["client_id"],
            shared=options["shared"],
            batch_size=options["batch_size"],
            flush_interval_s=options["flush_interval"],
            shutdown=ShutdownFlag().install(),
        )
        totals = worker.run()
        self.stdout.write(
            f"stopped: received {totals.received}, stored {totals.stored}, "
            f"duplicates {totals.duplicates}, dead-lettered {totals.dead_lettered}"
        )
