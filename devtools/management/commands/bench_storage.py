"""Bytes and storage-service CPU per reading, in a throwaway database; print one JSON line (docs/capacity.md)."""

import argparse
import json
import subprocess
import sys

from django.core.management.base import BaseCommand

from devtools.ingest_bench import REPO, BenchDatabase
from devtools.storage_bench import storage_benchmark


class Command(BaseCommand):
    help = (
        "Store a simulated fleet's readings through the consumer's storage service in a database of its own; "
        "print bytes per row and per device, WAL and CPU per message, and a cached device page's Redis bytes as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=20_000)
        parser.add_argument("--rounds", type=int, default=5, help="readings per device")
        parser.add_argument("--batch", type=int, default=5000, help="messages per stored batch (the consumer's largest)")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--in-this-database", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        sizes = {"devices": options["devices"], "rounds": options["rounds"], "batch": options["batch"]}
        figures = storage_benchmark(**sizes) if options["in_this_database"] else _in_a_throwaway_database(sizes)
        self.stdout.write(json.dumps(figures) if options["json"] else json.dumps(figures, indent=2))


def _in_a_throwaway_database(sizes: dict) -> dict:
    database = BenchDatabase()
    database.create()
    try:
        command = [sys.executable, "manage.py", "bench_storage", "--in-this-database", "--json"]
        for name, value in sizes.items():
            command += [f"--{name}", str(value)]
        result = subprocess.run(command, cwd=REPO, env=database.env(), capture_output=True, text=True, check=True)  # noqa: S603 - our own manage.py
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        database.drop()
