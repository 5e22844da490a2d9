"""Consume user-activity messages from RabbitMQ into PostgreSQL until SIGTERM."""

from django.conf import settings
from django.core.management.base import BaseCommand

from sessions_app.consumer import session_worker
from tier0site.workers import ShutdownFlag, serve_metrics


class Command(BaseCommand):
    help = "Upsert user sessions from user_activity_queue in batches, acknowledging after each commit."

    def add_arguments(self, parser):
        parser.add_argument("--queue", default=settings.SESSIONS_QUEUE)
        parser.add_argument("--prefetch", type=int, default=settings.SESSIONS_PREFETCH, help="unacknowledged messages in hand")
        parser.add_argument("--batch-size", type=int, default=settings.SESSIONS_BATCH_SIZE)
        parser.add_argument(
            "--flush-interval",
            type=float,
            default=settings.SESSIONS_FLUSH_INTERVAL_S,
            help="seconds a partial batch may wait for more messages (0: stored as soon as the previous commit is done)",
        )
        parser.add_argument("--exit-when-idle", type=float, default=None, help="stop after this many seconds without messages")
        parser.add_argument("--metrics-port", type=int, default=settings.SESSIONS_CONSUMER_METRICS_PORT, help="0: off")

    def handle(self, *args, **options):
        serve_metrics(options["metrics_port"])
        worker = session_worker(
            queue=options["queue"],
            prefetch=options["prefetch"],
            batch_size=options["batch_size"],
            flush_interval_s=options["flush_interval"],
            idle_exit_s=options["exit_when_idle"],
            shutdown=ShutdownFlag().install(),
        )
        totals = worker.run()
        self.stdout.write(
            f"stopped: received {totals.received}, applied {totals.applied}, superseded {totals.superseded}, "
            f"snapshots {totals.snapshots}, dead-lettered {totals.dead_lettered}, database retries {totals.db_errors}"
        )
