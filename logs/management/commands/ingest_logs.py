"""Stream access logs into PostgreSQL: ``manage.py ingest_logs PATH... [--json]``."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from logs.services import log_file_ingest
from tier0site.progress import Progress


class Command(BaseCommand):
    help = (
        "Ingest access logs (seed format with trailing response time, Apache common or combined) in COPY batches. "
        "Malformed lines are counted and listed with their line numbers; unchanged files are skipped; "
        "a file that grew continues where the last run stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--batch-lines", type=int, default=200_000)
        parser.add_argument("--show-malformed", type=int, default=20, help="how many malformed lines to list per file")
        parser.add_argument("--json", action="store_true", help="print one JSON summary per file")

    def handle(self, *args, **options):
        failures = 0
        for raw in options["paths"]:
            path = Path(raw)
            if not path.is_file():
                failures += 1
                self.stderr.write(f"skipped {path}: not a readable file")
                continue
            progress = Progress(f"ingest {path.name}", path.stat().st_size, unit="B")
            result = log_file_ingest(path=path, batch_lines=options["batch_lines"], progress=progress)
            progress.close()
            if options["json"]:
                summary = {k: v for k, v in result.__dict__.items() if k != "malformed_lines"}
                summary["malformed_lines"] = [list(m) for m in result.malformed_lines[: options["show_malformed"]]]
                summary["lines_per_s"] = round(result.lines_read / result.seconds) if result.seconds else None
                self.stdout.write(json.dumps(summary))
                continue
            if result.status == "failed":
                failures += 1
                self.stderr.write(f"failed {path}: {result.error}")
            elif result.status == "unchanged":
                self.stdout.write(f"unchanged {path}: already ingested, nothing added")
            else:
                rate = result.lines_read / result.seconds if result.seconds else 0
                self.stdout.write(
                    f"{result.status} {path}: {result.lines_read:,} lines read, {result.stored:,} stored, "
                    f"{result.malformed:,} malformed in {result.seconds:.1f}s ({rate:,.0f} lines/s)"
                )
            for number, reason, excerpt in result.malformed_lines[: options["show_malformed"]]:
                self.stderr.write(f"  line {number}: {reason}: {excerpt[:120]}")
            if result.malformed > options["show_malformed"]:
                self.stderr.write(f"  ... and {result.malformed - options['show_malformed']:,} more malformed lines")
        if failures and failures == len(options["paths"]):
            raise CommandError("no file could be ingested")
