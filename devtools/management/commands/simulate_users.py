"""Publish simulated user-session events and site snapshots to RabbitMQ."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from devtools.amqp_publisher import ConfirmedPublisher
from devtools.user_simulator import Population, message_stream
from tier0site.progress import Progress
from tier0site.workers import ShutdownFlag


class Command(BaseCommand):
    help = "Simulate enterprise users (login, active, idle, logout) publishing to user_activity_queue with confirms."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=1000)
        parser.add_argument(
            "--rate", type=float, default=100.0, help="messages per second (the seed: about 100/s); 0 = unthrottled"
        )
        parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until stopped)")
        parser.add_argument("--count", type=int, default=None, help="messages to publish (default: until stopped)")
        parser.add_argument(
            "--idle-after", type=float, default=float(settings.SESSIONS_IDLE_AFTER_S), help="quiet seconds before idle"
        )
        parser.add_argument("--snapshot-interval", type=float, default=5.0, help="seconds between site snapshots (0: none)")
        parser.add_argument("--queue", default=settings.SESSIONS_QUEUE)
        parser.add_argument("--window", type=int, default=2000, help="unconfirmed messages allowed in flight")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, **options):
        shutdown = ShutdownFlag().install()
        population = Population(users=options["users"], idle_after_s=options["idle_after"], seed=options["seed"])
        messages = message_stream(
            population,
            count=options["count"],
            duration_s=options["duration"],
            snapshot_interval_s=options["snapshot_interval"],
            monotonic=time.monotonic,
        )
        progress = Progress("confirmed", options["count"])
        report = ConfirmedPublisher(queue=options["queue"], window=options["window"]).publish_all(
            messages, rate=options["rate"] or None, stop=shutdown._event, progress=progress
        )
        progress.close()
        self.stdout.write(
            f"published {report.published} messages, {report.confirmed} confirmed "
            f"({report.republished} re-sent) in {report.seconds:.1f}s ({report.rate:.0f}/s)"
        )
