"""Mark sessions idle after five minutes without activity: once, or every --interval seconds with --loop."""

from django.conf import settings
from django.core.management.base import BaseCommand

from sessions_app.services import sessions_sweep
from sessions_app.sweeper import Sweeper
from tier0site.workers import ShutdownFlag, every


class Command(BaseCommand):
    help = "Mark active sessions idle after --idle-after seconds without activity, then refresh SRE_User."

    def add_arguments(self, parser):
        parser.add_argument("--idle-after", type=int, default=settings.SESSIONS_IDLE_AFTER_S)
        parser.add_argument("--loop", action="store_true", help="keep sweeping until SIGTERM (the Procfile's sweeper)")
        parser.add_argument(
            "--interval", type=float, default=settings.SESSIONS_SWEEP_INTERVAL_S, help="seconds between sweeps with --loop"
        )

    def handle(self, *args, **options):
        if not options["loop"]:
            marked = sessions_sweep(idle_after_s=options["idle_after"])
            self.stdout.write(f"marked {marked} sessions idle")
            return
        sweeper = Sweeper(idle_after_s=options["idle_after"], interval_s=options["interval"])
        every(options["interval"], sweeper.step, shutdown=ShutdownFlag().install())
        sweeper.heartbeat.stop()
        self.stdout.write(f"stopped: marked {sweeper.marked} sessions idle in {sweeper.sweeps} sweeps")
