"""Benchmark alarm rule evaluation (and optionally ingest with rules on against off); print one JSON line."""

import json

from django.core.management.base import BaseCommand

from devtools.alarms_bench import evaluation_benchmark, ingest_pairs


class Command(BaseCommand):
    help = "Rule evaluations per second for a fleet and a rule set; with --ingest-pairs, bench_ingest with rules off and on."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=100_000)
        parser.add_argument("--rules", type=int, default=50)
        parser.add_argument("--rounds", type=int, default=2, help="readings per device (each round: the whole fleet once)")
        parser.add_argument("--ingest-pairs", type=int, default=0, help="also run bench_ingest off/on this many times (median)")
        parser.add_argument("--messages", type=int, default=20_000, help="messages per bench_ingest run")
        parser.add_argument("--json", action="store_true", help="print only the JSON line (progress goes to stderr)")

    def handle(self, *args, **options):
        log = lambda line: self.stderr.write(line)  # noqa: E731
        figures = {
            "evaluation": evaluation_benchmark(
                devices=options["devices"], rules=options["rules"], rounds=options["rounds"], log=log
            )
        }
        if options["ingest_pairs"]:
            figures["ingest"] = ingest_pairs(
                pairs=options["ingest_pairs"], messages=options["messages"], devices=options["devices"], log=log
            )
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))
