"""Mark sessions idle after five minutes without activity (the consumer also does this periodically)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from sessions_app.services import sessions_mark_idle, sre_user_publish


class Command(BaseCommand):
    help = "Mark active sessions idle after --idle-after seconds without activity, then refresh SRE_User."

    def add_arguments(self, parser):
        parser.add_argument("--idle-after", type=int, default=settings.SESSIONS_IDLE_AFTER_S)

    def handle(self, *args, **options):
        marked = sessions_mark_idle(idle_after_s=options["idle_after"])
        sre_user_publish()
        self.stdout.write(f"marked {marked} sessions idle")
