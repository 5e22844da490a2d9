"""Send alarm notifications from the outbox until SIGTERM (README "Alarms")."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from alarms.notifier import deliver_due
from tier0site.workers import Backoff, ShutdownFlag, serve_metrics

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deliver alarm notifications (signed webhooks, emails) from the outbox, with retries and backoff."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between polls when idle (NOTIFIER_INTERVAL_S)")
        parser.add_argument("--once", action="store_true", help="send what is due now and exit")
        parser.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus counters on this port (0: off)")

    def handle(self, *args, **options):
        interval = options["interval"] or settings.NOTIFIER_INTERVAL_S
        shutdown = ShutdownFlag().install()
        serve_metrics(options["metrics_port"])
        outage = Backoff()
        logger.info("notifier started", extra={"interval_s": interval})
        while not shutdown.is_set:
            try:
                handled = deliver_due()
                outage.reset()
            except DatabaseError as exc:
                # The database is away: the outbox waits there; try again later.
                logger.warning("notifier round failed", extra={"error": str(exc)[:200]})
                shutdown.wait(outage.next_delay())
                continue
            if options["once"]:
                break
            if not handled:
                shutdown.wait(interval)
