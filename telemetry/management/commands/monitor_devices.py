"""Every few seconds: record devices that fell silent; every half minute: roll readings up."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from telemetry.liveness import devices_mark_offline, liveness_event
from telemetry.rollups import rollups_refresh_arrived
from tier0site import live
from tier0site.workers import ShutdownFlag

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Mark devices offline once when they fall silent (telling the dashboard) and keep the rollups current."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds (DEVICE_MONITOR_INTERVAL_S)")
        parser.add_argument("--once", action="store_true", help="run one round (liveness and rollups) and exit")

    def handle(self, *args, **options):
        interval = options["interval"] or settings.DEVICE_MONITOR_INTERVAL_S
        shutdown = ShutdownFlag().install()
        logger.info("device monitor started", extra={"interval_s": interval, "offline_after_s": settings.DEVICE_OFFLINE_AFTER_S})
        next_rollup = 0.0
        self.publisher = live.Publisher(live.TELEMETRY)
        while True:
            self.run_safely(self.liveness_round)
            if time.monotonic() >= next_rollup:
                self.run_safely(self.rollup_round)
                next_rollup = time.monotonic() + settings.ROLLUP_INTERVAL_S
            if options["once"] or shutdown.event.wait(interval):
                break

    @staticmethod
    def run_safely(round_) -> None:
        try:
            round_()
        except DatabaseError as exc:
            # The database is away (restart, failover): try again next round.
            logger.warning("device monitor round failed", extra={"round": round_.__name__, "error": str(exc)[:200]})

    @staticmethod
    def rollup_round() -> None:
        started = time.monotonic()
        minutes, hours = rollups_refresh_arrived()
        logger.info(
            "rollups refreshed",
            extra={"minute_rows": minutes, "hour_rows": hours, "seconds": round(time.monotonic() - started, 3)},
        )

    def liveness_round(self) -> None:
        transitions = devices_mark_offline()
        if not transitions.devices:
            return
        logger.info("devices went offline", extra={"devices": len(transitions.devices), "silent_sites": transitions.sites})
        # The publisher never raises: an unreachable dashboard must not stop the monitor.
        self.publisher.add(liveness_event(transitions))
        self.publisher.flush(force=True)
