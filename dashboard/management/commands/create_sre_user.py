"""Create the SRE account that signs in to the dashboard (no user is built in)."""

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dashboard.services import sre_user_create

PASSWORD_ENV = "SRE_USER_PASSWORD"  # noqa: S105 - the name of an environment variable, not a password


class Command(BaseCommand):
    help = (
        "Create an SRE dashboard account. The password comes from the environment variable "
        f"{PASSWORD_ENV} or is asked for on the terminal; it is never a command-line argument "
        "(those show in the process list)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--viewer", action="store_true", help="not staff: may watch but not run a failover")
        parser.add_argument("--update", action="store_true", help="reset the password of an existing user")

    def handle(self, *args, **options):
        password = os.environ.get(PASSWORD_ENV) or self._ask()
        try:
            user = sre_user_create(
                username=options["username"], password=password, staff=not options["viewer"], update=options["update"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from None
        role = "staff" if user.is_staff else "viewer"
        self.stdout.write(self.style.SUCCESS(f"SRE user {user.username!r} ready ({role}); sign in at /accounts/login/"))

    def _ask(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError(f"no password: set {PASSWORD_ENV} or run this command on a terminal")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the passwords differ")
        if not password:
            raise CommandError("an empty password is not allowed")
        return password
