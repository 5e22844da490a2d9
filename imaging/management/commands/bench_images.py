"""bench_images --json: images/s of the offline scan over the seed images, on a throwaway store."""

import json
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from imaging.analysers.offline import OfflineAnalyser
from imaging.services import images_scan
from imaging.stores import PostgresImageStore


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time full offline scans (decode, analyse, embed, store) of the seed images; nothing is kept."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=settings.IMAGES_ROOT)
        parser.add_argument("--passes", type=int, default=5)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        source = Path(options["path"])
        if not source.is_dir():
            raise CommandError(f"{source} is not a directory")
        analyser = OfflineAnalyser()
        per_pass, images = [], 0
        with tempfile.TemporaryDirectory() as tmp:
            # A private copy under a temp folder: new paths, so every pass analyses every image.
            for n in range(options["passes"]):
                root = Path(tmp) / f"pass{n}"
                shutil.copytree(source, root)
                try:
                    with transaction.atomic():
                        started = time.perf_counter()
                        report = images_scan(root=root, store=PostgresImageStore(), analyser=analyser)
                        per_pass.append(time.perf_counter() - started)
                        images += report.processed
                        raise _Rollback  # leave no rows behind
                except _Rollback:
                    pass
        total = sum(per_pass)
        result = {
            "benchmark": "bench_images",
            "what": "offline scan of the seed images: read, hash, decode, analyse, embed, save (rolled back)",
            "passes": len(per_pass),
            "images": images,
            "seconds": round(total, 3),
            "images_per_s": round(images / total, 1) if total else None,
            "best_pass_images_per_s": round((images / len(per_pass)) / min(per_pass), 1) if per_pass else None,
        }
        self.stdout.write(json.dumps(result) if options["json"] else "\n".join(f"{k}: {v}" for k, v in result.items()))
