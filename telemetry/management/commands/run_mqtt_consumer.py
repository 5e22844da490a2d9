"""Consume telemetry (Mosquitto, or the RabbitMQ cluster's quorum queue) into PostgreSQL until SIGTERM."""

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
        parser.add_argument(
            "--transport",
            choices=("mosquitto", "rabbitmq"),
            default=None,
            help="default TELEMETRY_TRANSPORT; rabbitmq: the cluster's quorum queue over AMQP (telemetry/rabbitmq.py)",
        )
        parser.add_argument(
            "--brokers",
            default=None,
            help="rabbitmq: comma-separated AMQP URLs or host:port of the cluster's nodes (default TELEMETRY_BROKER_URLS)",
        )
        parser.add_argument("--prefetch", type=int, default=None, help="rabbitmq: unacknowledged deliveries at most")
        parser.add_argument("--queue", default=None, help="rabbitmq: the quorum queue (default TELEMETRY_QUEUE)")
        parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("MQTT_CONSUMER_METRICS_PORT", "9101")))

    def handle(self, *args, **options):
        serve_metrics(options["metrics_port"])
        worker = mqtt_ingest_worker(
            client_id=options["client_id"],
            shared=options["shared"],
            batch_size=options["batch_size"],
            flush_interval_s=options["flush_interval"],
            shutdown=ShutdownFlag().install(),
            transport=options["transport"],
            brokers=options["brokers"].split(",") if options["brokers"] else None,
            prefetch=options["prefetch"],
            queue=options["queue"],
        )
        totals = worker.run()
        self.stdout.write(
            f"stopped: received {totals.received}, stored {totals.stored}, "
            f"duplicates {totals.duplicates}, dead-lettered {totals.dead_lettered}"
        )
