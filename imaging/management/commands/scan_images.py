"""scan_images PATH [--watch]: analyse new or changed site camera images."""

import json
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from imaging.analysers import analyser_default, analyser_offline
from imaging.analysers.model_files import ModelMissing
from imaging.services import images_scan, images_watch
from imaging.stores import store_default
from tier0site.progress import Progress
from tier0site.workers import ShutdownFlag

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Scan TurbineImages/ThermalEngines/ElectricalRotors/OilAndGas under PATH; analyse new or changed images."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=settings.IMAGES_ROOT, help="folder holding the category folders")
        parser.add_argument("--watch", action="store_true", help="keep scanning for new files until SIGTERM")
        parser.add_argument(
            "--interval", type=float, default=settings.IMAGES_WATCH_INTERVAL_S, help="seconds between watch scans"
        )
        parser.add_argument("--offline", action="store_true", help="use the offline analyser even when COHERE_API_KEY is set")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON line")

    def handle(self, *args, **options):
        try:
            analyser = analyser_offline() if options["offline"] else analyser_default()
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        store = store_default()
        try:
            if options["watch"]:
                stop = ShutdownFlag().install()
                self.stdout.write(
                    f"watching {options['path']} every {options['interval']}s ({analyser.name} -> {store.name}); Ctrl-C stops"
                )
                images_watch(
                    root=options["path"],
                    store=store,
                    analyser=analyser,
                    stop=stop,
                    interval_s=options["interval"],
                    on_report=self._write_if_busy(options),
                )
                return
            progress = Progress("scan_images", unit="img")
            report = images_scan(root=options["path"], store=store, analyser=analyser, progress=progress)
            progress.close()
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        self._write(report, options)

    def _write_if_busy(self, options):
        def write(report):
            if report.processed or report.skipped:
                self._write(report, options)

        return write

    def _write(self, report, options):
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
            return
        self.stdout.write(
            f"new {report.new}, changed {report.changed}, unchanged {report.unchanged}, skipped {len(report.skipped)} in {report.seconds:.2f}s"
        )
        for item in report.skipped:
            self.stdout.write(self.style.WARNING(f"skipped {item['path']}: {item['reason']}"))
