"""Write realistic access logs in the seed's format: ``manage.py simulate_logs OUT --lines N``."""

from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devtools.logsim import generate_lines
from tier0site.progress import Progress


class Command(BaseCommand):
    help = "Generate access-log lines (IP, time, request, status, size, referer, agent, response ms), oldest first."

    def add_arguments(self, parser):
        parser.add_argument("out", help="file to write ('-' for stdout)")
        parser.add_argument("--lines", type=int, default=100_000)
        parser.add_argument("--hours", type=float, default=24.0, help="time span covered, ending now (or --end)")
        parser.add_argument("--end", default=None, help="ISO time of the last line, e.g. 2024-10-10T12:00:00+00:00")
        parser.add_argument("--ips", type=int, default=400, help="distinct client addresses")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **options):
        if options["lines"] < 1:
            raise CommandError("--lines must be at least 1")
        end = None
        if options["end"]:
            try:
                end = datetime.fromisoformat(options["end"])
            except ValueError as exc:
                raise CommandError(f"--end: {exc}") from exc
            if end.tzinfo is None:
                raise CommandError("--end needs a timezone offset, e.g. +00:00")
        lines = generate_lines(lines=options["lines"], seed=options["seed"], end=end, hours=options["hours"], ips=options["ips"])
        progress = Progress("simulate_logs", options["lines"], unit="line")
        if options["out"] == "-":
            for i, line in enumerate(lines, start=1):
                self.stdout.write(line)
                if i % 50_000 == 0:
                    progress(i)
        else:
            with Path(options["out"]).open("w", encoding="utf-8") as handle:
                buffer = []
                for i, line in enumerate(lines, start=1):
                    buffer.append(line)
                    if len(buffer) == 50_000:
                        handle.write("\n".join(buffer) + "\n")
                        buffer = []
                        progress(i)
                if buffer:
                    handle.write("\n".join(buffer) + "\n")
            self.stdout.write(f"wrote {options['lines']:,} lines to {options['out']}")
        progress(options["lines"])
        progress.close()
