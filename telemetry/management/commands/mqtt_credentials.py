"""Provision broker credentials: a new site is a command away, not a code change."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telemetry import broker_auth

PASSWORD_ENV = "MQTT_NEW_PASSWORD"  # noqa: S105 - the name of an environment variable, not a password


class Command(BaseCommand):
    help = (
        "Create, rotate, revoke or list the Mosquitto credentials in MQTT_AUTH_DIR. "
        "`site SITE_ID` makes credentials that may publish only under og/field/SITE_ID/...; "
        "`consumer NAME` may read everything; `simulator NAME` may publish for every site. "
        f"The password is generated (printed once) unless {PASSWORD_ENV} is set. "
        "A running broker (pid file in its data folder) is told to reload."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["site", "consumer", "simulator", "revoke", "list"])
        parser.add_argument("name", nargs="?", help="site id (site), username (consumer/simulator/revoke)")
        parser.add_argument("--username", help="for `site`: the username (default: the site id)")
        parser.add_argument(
            "--auth-dir", default=settings.MQTT_AUTH_DIR or str(Path(settings.BASE_DIR) / ".run" / "mosquitto-auth")
        )
        parser.add_argument("--pid-file", default=str(Path(settings.BASE_DIR) / ".run" / "mosquitto" / "mosquitto.pid"))

    def handle(self, *args, action, name, username, auth_dir, pid_file, **options):
        auth_dir, prefix = Path(auth_dir), settings.MQTT_TOPIC_PREFIX
        if action == "list":
            for user, entry in sorted(broker_auth.credentials_read(auth_dir).items()):
                self.stdout.write(f"{user}\t{entry['role']}\t{entry.get('site_id', '')}")
            return
        if not name:
            raise CommandError(f"{action} needs a name")
        try:
            if action == "revoke":
                if not broker_auth.credential_revoke(auth_dir=auth_dir, username=name, prefix=prefix):
                    raise CommandError(f"no credentials named {name!r}")
                self.stdout.write(self.style.SUCCESS(f"revoked {name}"))
            else:
                user = (username or name) if action == "site" else name
                password = broker_auth.credential_set(
                    auth_dir=auth_dir, username=user, role=action, prefix=prefix,
                    site_id=name if action == "site" else "", password=os.environ.get(PASSWORD_ENV, ""),
                )  # fmt: skip
                scope = (
                    f"publish under {prefix}/{name}/"
                    if action == "site"
                    else ("read all" if action == "consumer" else "publish for every site")
                )
                self.stdout.write(self.style.SUCCESS(f"MQTT_USERNAME={user} may {scope}"))
                if not os.environ.get(PASSWORD_ENV):
                    self.stdout.write(f"MQTT_PASSWORD={password}  (shown once)")
        except broker_auth.CredentialError as exc:
            raise CommandError(str(exc)) from None
        if broker_auth.reload_broker(Path(pid_file)):
            self.stdout.write("the running broker reloaded its password file and ACL")
