"""bench_images --json: images/s of the offline scan over the seed images, on a throwaway store."""

import json
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from imaging.analysers import analyser_offline
from imaging.analysers.model_files import ModelMissing
from imaging.services import CATEGORY_TYPES, IMAGE_EXTENSIONS, images_scan
from imaging.stores import PostgresImageStore


class _Rollback(Exception):
    pass


def _stage_seconds(source: Path, analyser) -> dict:
    """Where one pass's time goes, per stage, measured on the same images outside the scan."""
    from imaging.analysers import ppe, ssd
    from imaging.analysers.base import image_decode

    files = [p for c in CATEGORY_TYPES for p in sorted((source / c).glob("*")) if p.suffix.lower() in IMAGE_EXTENSIONS]
    stages = {"decode": 0.0, "analyse": 0.0, "embed": 0.0}
    if analyser.name == "offline-nn":
        stages.update({"detector": 0.0, "close_up_detector": 0.0, "pose": 0.0})
    people = 0
    for path in files:
        started = time.perf_counter()
        image = image_decode(path.read_bytes())
        stages["decode"] += time.perf_counter() - started
        started = time.perf_counter()
        analysis = analyser.analyse(image)
        stages["analyse"] += time.perf_counter() - started
        started = time.perf_counter()
        analyser.embed(image, analysis)
        stages["embed"] += time.perf_counter() - started
        if "detector" in stages:
            rgb = ppe.normalise(image.rgb)
            started = time.perf_counter()
            ssd.detect_tiled(rgb)
            stages["detector"] += time.perf_counter() - started
            started = time.perf_counter()
            ssd.close_people(rgb)
            stages["close_up_detector"] += time.perf_counter() - started
            for person in analysis["people"]:
                x, y, w, h = person["box"]
                crop = rgb[int(y * image.height) : int((y + h) * image.height), int(x * image.width) : int((x + w) * image.width)]
                started = time.perf_counter()
                ssd.pose_landmarks(crop)
                stages["pose"] += time.perf_counter() - started
            people += len(analysis["people"])
    out = {f"{k}_ms_per_image": round(v * 1000 / max(1, len(files)), 1) for k, v in stages.items()}
    if "detector" in stages:
        out["people_per_image"] = round(people / max(1, len(files)), 2)
        out["rest_of_analyse_ms_per_image"] = round(
            (stages["analyse"] - stages["detector"] - stages["close_up_detector"] - stages["pose"]) * 1000 / max(1, len(files)), 1
        )
    return out


class Command(BaseCommand):
    help = "Time full offline scans (decode, analyse, embed, store) of the seed images; nothing is kept."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=settings.IMAGES_ROOT)
        parser.add_argument("--passes", type=int, default=5)
        parser.add_argument("--analyser", choices=("offline-nn", "offline-cv"), default=settings.IMAGES_OFFLINE_ANALYSER)
        parser.add_argument(
            "--workers", type=int, default=settings.IMAGES_SCAN_WORKERS, help="analysis threads (IMAGES_SCAN_WORKERS)"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        source = Path(options["path"])
        if not source.is_dir():
            raise CommandError(f"{source} is not a directory")
        try:
            analyser = analyser_offline(options["analyser"])
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        per_pass, images = [], 0
        with tempfile.TemporaryDirectory() as tmp:
            # A private copy under a temp folder: new paths, so every pass analyses every image.
            for n in range(options["passes"]):
                root = Path(tmp) / f"pass{n}"
                shutil.copytree(source, root)
                try:
                    with transaction.atomic():
                        started = time.perf_counter()
                        report = images_scan(root=root, store=PostgresImageStore(), analyser=analyser, workers=options["workers"])
                        per_pass.append(time.perf_counter() - started)
                        images += report.processed
                        raise _Rollback  # leave no rows behind
                except _Rollback:
                    pass
        total = sum(per_pass)
        result = {
            "benchmark": "bench_images",
            "analyser": analyser.name,
            "what": "offline scan of the seed images: read, hash, decode, analyse, embed, save (rolled back)",
            "workers": options["workers"],
            "passes": len(per_pass),
            "images": images,
            "seconds": round(total, 3),
            "images_per_s": round(images / total, 1) if total else None,
            "best_pass_images_per_s": round((images / len(per_pass)) / min(per_pass), 1) if per_pass else None,
            "stages": _stage_seconds(source, analyser),
        }
        self.stdout.write(json.dumps(result) if options["json"] else "\n".join(f"{k}: {v}" for k, v in result.items()))
