"""Run the project's own Mosquitto in the foreground (for `make run`)."""

import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from telemetry.broker import render_config


class Command(BaseCommand):
    help = "Run Mosquitto with deploy/mosquitto/mosquitto.conf on MQTT_PORT (data in .run/mosquitto)."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=str(Path(settings.BASE_DIR) / ".run" / "mosquitto"))

    def handle(self, *args, **options):
        config = render_config(port=settings.MQTT_PORT, data_dir=Path(options["data_dir"]))
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        # exec, so the process manager's SIGTERM reaches Mosquitto itself.
        os.execv(binary, [binary, "-c", str(config)])
