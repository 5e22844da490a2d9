"""Run the project's own Mosquitto in the foreground (for `make run`)."""

import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.broker import render_config


class Command(BaseCommand):
    help = (
        "Run Mosquitto with deploy/mosquitto/mosquitto.conf on MQTT_PORT (data in .run/mosquitto); "
        "with MQTT_AUTH_DIR, only the credentials of manage.py mqtt_credentials get in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=str(Path(settings.BASE_DIR) / ".run" / "mosquitto"))

    def handle(self, *args, **options):
        auth_dir = Path(settings.MQTT_AUTH_DIR) if settings.MQTT_AUTH_DIR else None
        try:
            config = render_config(port=settings.MQTT_PORT, data_dir=Path(options["data_dir"]), auth_dir=auth_dir)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        # exec, so the process manager's SIGTERM reaches Mosquitto itself.
        os.execv(binary, [binary, "-c", str(config)])  # noqa: S606 - becomes mosquitto with the config we rendered
