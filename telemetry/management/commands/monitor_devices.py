"""Every few seconds: record devices that fell silent, and roll readings up."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from telemetry.liveness import devices_mark_offline, liveness_event
from tier0site.workers import ShutdownFlag

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Mark devices offline once when they fall silent (and tell the dashboard); runs until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds (DEVICE_MONITOR_INTERVAL_S)")
        parser.add_argument("--once", action="store_true", help="run one round and exit")

    def handle(self, *args, **options):
        interval = options["interval"] or settings.DEVICE_MONITOR_INTERVAL_S
        shutdown = ShutdownFlag().install()
        logger.info("device monitor started", extra={"interval_s": interval, "offline_after_s": settings.DEVICE_OFFLINE_AFTER_S})
        while True:
            self.round()
            if options["once"] or shutdown.event.wait(interval):
                break

    def round(self) -> None:
        try:
            transitions = devices_mark_offline()
        except DatabaseError as exc:
            # The database is away (restart, failover): try again next round.
            logger.warning("device monitor round failed", extra={"error": str(exc)[:200]})
            return
        if not transitions.devices:
            return
        logger.info("devices went offline", extra={"devices": len(transitions.devices), "silent_sites": transitions.sites})
        try:
            async_to_sync(get_channel_layer().group_send)("telemetry", liveness_event(transitions))
        except Exception as exc:  # noqa: BLE001 - the dashboard being unreachable must not stop the monitor
            logger.warning("liveness event not published", extra={"error": str(exc)[:200]})
